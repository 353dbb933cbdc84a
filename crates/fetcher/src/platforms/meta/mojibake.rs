//! Repair of the text in Meta's "Download Your Information" JSON (reference §6.1).
//!
//! Meta writes every string as the UTF-8 *bytes* of the text, one `\u00XX` escape per byte, so a
//! JSON parser yields code points U+0080–U+00FF: «م» (U+0645, bytes D9 85) arrives as
//! `"\u00d9\u0085"`. The repair maps each code point back to the byte of the same value
//! (ISO-8859-1, never Windows-1252, whose 0x80–0x9F differ) and decodes the bytes as UTF-8.
//!
//! A string is left untouched when it cannot be mojibake: a code point above U+00FF, or bytes
//! that are not valid UTF-8 (a genuine «é» alone is the byte E9, which starts a three-byte
//! sequence and fails to decode). Some files are double-encoded, so the repair repeats while it
//! keeps succeeding and shrinking.
//!
//! Only derived records are repaired; the export files themselves are stored byte-exact. Never
//! apply this to API responses, X archives or Takeout: they are proper UTF-8.

use std::borrow::Cow;

use serde_json::Value;

/// Each repair pass shrinks the string, so a handful is already more than any real file needs.
const MAX_PASSES: usize = 4;

/// The text `s` was meant to be, or `s` itself when it is not mojibake.
pub fn repair(s: &str) -> Cow<'_, str> {
    let mut current = Cow::Borrowed(s);
    for _ in 0..MAX_PASSES {
        match repair_once(&current) {
            Some(fixed) if fixed.len() < current.len() => current = Cow::Owned(fixed),
            _ => break,
        }
    }
    current
}

/// One pass: `None` when `s` is ASCII or is not one-byte-per-code-point UTF-8.
fn repair_once(s: &str) -> Option<String> {
    if s.is_ascii() {
        return None;
    }
    let bytes: Vec<u8> = s
        .chars()
        .map(|c| u8::try_from(u32::from(c)).ok())
        .collect::<Option<_>>()?;
    String::from_utf8(bytes).ok()
}

/// Repairs every string value of a parsed export document, in place (object keys are Meta's
/// own ASCII names and stay as they are).
pub fn repair_value(v: &mut Value) {
    match v {
        Value::String(s) => {
            if let Cow::Owned(fixed) = repair(s) {
                *s = fixed;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(repair_value),
        Value::Object(map) => map.values_mut().for_each(repair_value),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Writes `text` the way Meta's exporter does: one `\u00XX` escape per UTF-8 byte.
    fn meta_escape(text: &str) -> String {
        text.bytes()
            .map(|b| {
                if (b.is_ascii_graphic() && b != b'"' && b != b'\\') || b == b' ' {
                    (b as char).to_string()
                } else {
                    format!("\\u00{b:02x}")
                }
            })
            .collect()
    }

    fn parse(json_string_body: &str) -> String {
        serde_json::from_str::<String>(&format!("\"{json_string_body}\"")).unwrap()
    }

    #[test]
    fn arabic_emoji_and_eastern_digits_come_back_exactly() {
        let text = "مدرسة الأمل الابتدائية ١٤٤٦هـ — حفل التخرج 🎓🇸🇦 (٢٠٢٤)";
        let garbled = parse(&meta_escape(text));
        assert_ne!(garbled, text, "the escape really garbles");
        assert_eq!(repair(&garbled), text);
        // م is D9 85: the classic sample of §6.1.
        assert_eq!(repair(&parse("\\u00d9\\u0085")), "م");
    }

    #[test]
    fn genuine_text_is_left_alone() {
        for s in [
            "café",                 // é alone is E9: not valid UTF-8 as a byte
            "Ünïcödé naïve façade", // Latin-1 letters
            "مرحبا",                // already proper Arabic (code points > U+00FF)
            "plain ascii",
            "",
            "mixed م and Ã",
        ] {
            assert!(matches!(repair(s), Cow::Borrowed(_)), "{s:?} was altered");
        }
    }

    #[test]
    fn windows_1252_is_never_used() {
        // U+0080..U+009F are bytes 80..9F, not the Windows-1252 punctuation: "…" is E2 80 A6.
        assert_eq!(repair("\u{e2}\u{80}\u{a6}"), "…");
    }

    #[test]
    fn double_encoding_is_undone_while_it_shrinks() {
        let once = parse(&meta_escape("شكرا"));
        let twice = parse(&meta_escape(&once));
        assert_eq!(repair(&twice), "شكرا");
    }

    #[test]
    fn every_string_in_a_document_is_repaired_and_nothing_else() {
        let raw = format!(
            r#"{{"title":"{}","n":3,"media":[{{"uri":"media/posts/1.jpg","title":"{}"}}],"label":"café"}}"#,
            meta_escape("اليوم الوطني"),
            meta_escape("صورة")
        );
        let mut v: Value = serde_json::from_str(&raw).unwrap();
        repair_value(&mut v);
        assert_eq!(v["title"], "اليوم الوطني");
        assert_eq!(v["media"][0]["title"], "صورة");
        assert_eq!(v["media"][0]["uri"], "media/posts/1.jpg");
        assert_eq!(v["n"], 3);
        assert_eq!(v["label"], "café");
    }

    proptest! {
        #[test]
        fn any_text_survives_the_round_trip(text in "\\PC{0,40}") {
            // Text that itself reads as mojibake (say "Ã©") is ambiguous by nature: skip it.
            prop_assume!(matches!(repair(&text), Cow::Borrowed(_)));
            let garbled = parse(&meta_escape(&text));
            prop_assert_eq!(repair(&garbled), text.as_str());
        }

        #[test]
        fn proper_text_with_code_points_above_ff_is_never_changed(text in "[\\u0100-\\u{1F6FF}a-z ]{1,30}") {
            prop_assume!(text.chars().any(|c| u32::from(c) > 0xFF));
            prop_assert_eq!(repair(&text), text.as_str());
        }
    }
}
