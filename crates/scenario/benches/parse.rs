//! Loading scenarios: parse and validate every shipped scenario file.

fn main() {
    divan::main();
}

#[divan::bench]
fn every_shipped_scenario(b: divan::Bencher) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios");
    let mut files = Vec::new();
    let mut todo = vec![dir];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() && !p.ends_with("snapshots") {
                todo.push(p);
            } else if p.extension().is_some_and(|x| x == "json") {
                files.push((
                    p.display().to_string(),
                    std::fs::read_to_string(&p).unwrap(),
                ));
            }
        }
    }
    b.counter(divan::counter::ItemsCount::new(files.len()))
        .bench(|| {
            for (name, text) in &files {
                esp_ws_scenario::parse_str(text, name).unwrap();
            }
        });
}
