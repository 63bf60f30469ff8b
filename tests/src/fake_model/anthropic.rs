//! The anthropic API's stream, for [`super::FakeModel`] scripts.
