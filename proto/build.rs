//! Compiles `dutyroom/v1/*.proto` with protox (pure Rust: no system protoc),
//! plus the bench-only `dutyroom/bench/echo.proto`, which is generated but
//! kept out of the descriptor set that reflection serves.

use std::path::{Path, PathBuf};

fn protos(dir: &Path) -> Result<Vec<PathBuf>, Box<dyn std::error::Error>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "proto"))
        .collect();
    files.sort();
    Ok(files)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let api_dir = root.join("dutyroom").join("v1");
    let bench_dir = root.join("dutyroom").join("bench");
    let api = protos(&api_dir)?;
    let bench = protos(&bench_dir)?;

    // The API alone: what reflection and JSON output describe.
    let mut compiler = protox::Compiler::new([&root])?;
    compiler.include_imports(true).include_source_info(true);
    compiler.open_files(&api)?;
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out_dir.join("dutyroom_descriptor.bin"),
        compiler.encode_file_descriptor_set(),
    )?;

    // Code for the API and the bench echo service.
    let mut everything = protox::Compiler::new([&root])?;
    everything.include_imports(true).include_source_info(true);
    everything.open_files(api.iter().chain(&bench))?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_fds(everything.file_descriptor_set())?;

    // compile_fds prints no rerun-if-changed lines of its own.
    for dir in [&api_dir, &bench_dir] {
        println!("cargo:rerun-if-changed={}", dir.display());
    }
    for file in api.iter().chain(&bench) {
        println!("cargo:rerun-if-changed={}", file.display());
    }
    Ok(())
}
