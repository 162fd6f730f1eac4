//! Property tests: the shared readers never panic on any input, and whatever they accept
//! they describe faithfully. `PROPTEST_CASES` bounds the run (CI uses the default 256).

use hookpipe::bytes;
use hookpipe::record::{Data, Line};
use hookpipe::stream::{ReadError, RecordReader};
use proptest::prelude::*;

/// Lines that are sometimes records, sometimes JSON of the wrong shape, sometimes garbage.
fn line() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..200),
        Just(b"{\"type\":\"hook\",\"name\":\"50-x.sh\",\"kind\":\"extras\"}".to_vec()),
        Just(b"{\"type\":\"end\",\"id\":1}".to_vec()),
        Just(b"{\"type\":\"mystery\",\"x\":[1,2,{}]}".to_vec()),
        Just(b"{\"type\":".to_vec()),
        Just(b"[]".to_vec()),
        "[a-z{}\":,0-9 ]{0,60}".prop_map(String::into_bytes),
    ]
}

proptest! {
    #[test]
    fn record_reader_never_panics_and_counts_lines(lines in proptest::collection::vec(line(), 0..20)) {
        let mut input = Vec::new();
        for l in &lines {
            input.extend(l.iter().copied().filter(|&b| b != b'\n'));
            input.push(b'\n');
        }
        let mut reader = RecordReader::new(&input[..]);
        let mut last = 0;
        loop {
            match reader.next() {
                Ok(Some(raw)) => {
                    prop_assert!(raw.lineno > last);
                    last = raw.lineno;
                    // Decoding a known type may fail, but must not panic.
                    let _ = raw.decode();
                }
                Ok(None) => break,
                Err(ReadError::Malformed(bad)) => {
                    prop_assert!(bad.lineno as usize <= lines.len());
                    prop_assert!(bad.to_string().starts_with("input line "));
                    break;
                }
                Err(ReadError::Io(err)) => prop_assert!(false, "io error {err}"),
            }
        }
    }

    #[test]
    fn text_or_bytes_round_trips(data in proptest::collection::vec(any::<u8>(), 0..300)) {
        let line = Line {
            text: Some(Data::from_bytes(&data)),
            time: "t".into(),
            ..Line::default()
        };
        let json = serde_json::to_value(&line).unwrap();
        prop_assert!(json.get("text").is_some() != json.get("text_base64").is_some());
        let back: Line = serde_json::from_value(json).unwrap();
        prop_assert_eq!(back.text.unwrap().into_bytes(), data.clone());
        let shown = bytes::display(&data);
        prop_assert!(!shown.contains('\n'));
    }
}
