//! The openai API's stream, for [`super::FakeModel`] scripts.
