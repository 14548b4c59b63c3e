//! The Spin flavour's binding to the Spin variables: `wasi:config/store` as
//! Spin-based hosts link it (wit/world.wit, `spin-proxy`). Generated from the
//! WIT, as the `wasi` crate's bindings are; the WASI host reads settings
//! through it (docs/hosts/spin.md, "Settings as Spin variables").
#![allow(unsafe_code)] // the generated calls cross the C ABI, as the export does

wit_bindgen::generate!({
    inline: "package apex:spin; world variables { import wasi:config/store@0.2.0-draft-2024-09-27; }",
    path: "wit/deps/config.wit",
    world: "apex:spin/variables",
    generate_all,
});
