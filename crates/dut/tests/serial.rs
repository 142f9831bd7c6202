//! The serial log store every target feeds.

use std::time::Duration;

use esp_ws_dut::SerialLog;

#[tokio::test]
async fn lines_are_split_across_pushes_and_written_verbatim() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("serial.log");
    let log = SerialLog::new(Some(file.clone())).unwrap();
    log.push(b"I (10) tag: one\r\nW (20) t");
    assert_eq!(log.len(), 1);
    assert_eq!(log.partial(), b"W (20) t");
    log.push(b"ag: two\nets Jul 29 2019 12:21:46\n\xff\xfe\n");
    assert_eq!(log.len(), 4);
    let lines = log.lines(0, usize::MAX);
    assert_eq!(lines[0].text(), "I (10) tag: one");
    assert_eq!(lines[1].line.as_log().unwrap().tag, "tag");
    assert!(lines[2].line.as_log().is_none());
    assert_eq!(lines[3].text(), "\\xff\\xfe");
    log.push(b"no newline");
    log.close();
    assert_eq!(log.len(), 5);
    assert_eq!(
        std::fs::read(&file).unwrap(),
        b"I (10) tag: one\r\nW (20) tag: two\nets Jul 29 2019 12:21:46\n\xff\xfe\nno newline"
    );
}

#[tokio::test]
async fn waiting_for_a_line_sees_lines_pushed_later_and_gives_up_at_the_deadline() {
    let log = SerialLog::new(None).unwrap();
    log.push(b"I (1) a: early\n");
    let l2 = log.clone();
    let pusher = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        l2.push(b"I (2) a: late\n");
    });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let found = log
        .wait_for(1, deadline, |l| l.text().contains("late"))
        .await;
    assert_eq!(found.map(|l| l.index), Some(1));
    pusher.await.unwrap();
    // `from` skips what was already seen.
    let short = tokio::time::Instant::now() + Duration::from_millis(50);
    assert!(
        log.wait_for(2, short, |l| l.text().contains("early"))
            .await
            .is_none()
    );
}

#[tokio::test]
async fn quiet_means_no_new_line_for_the_period() {
    let log = SerialLog::new(None).unwrap();
    log.push(b"I (1) a: x\n");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let t = std::time::Instant::now();
    assert!(log.wait_quiet(Duration::from_millis(100), deadline).await);
    assert!(t.elapsed() >= Duration::from_millis(90));
    let l2 = log.clone();
    let noisy = tokio::spawn(async move {
        for _ in 0..60 {
            l2.push(b"I (1) a: y\n");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    // Let the noise start, then ask for a quiet period it never leaves.
    tokio::time::sleep(Duration::from_millis(30)).await;
    let short = tokio::time::Instant::now() + Duration::from_millis(300);
    assert!(!log.wait_quiet(Duration::from_millis(200), short).await);
    noisy.await.unwrap();
}
