//! End-to-end tests: a real `dutyd` on 127.0.0.1:0 with a temporary store.
