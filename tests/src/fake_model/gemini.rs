//! The gemini API's stream, for [`super::FakeModel`] scripts.
