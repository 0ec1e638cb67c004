#![allow(non_upper_case_globals)]
#![allow(non_camel_case_types)]
#![allow(non_snake_case)]
// The pregenerated bindings predate this lint.
#![allow(unknown_lints, unnecessary_transmutes)]

include!(concat!(env!("OUT_DIR"), "/bindings.rs"));
