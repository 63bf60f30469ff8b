//! `gemini-chat` transcripts: see [`pk_fuzz::transcript`].
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| pk_fuzz::transcript(pk_status::Format::GeminiChat, data));
