//! End-to-end tests on generated build directories and merged images.

mod app_image;
mod build_dir;
mod fixtures;
mod merged;
