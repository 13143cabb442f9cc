//! `generate resource`, run as a developer would, in a copy of this project's sources: what it
//! writes and registers, and what it refuses — bad names and types (exit 2), existing files and
//! missing markers (exit 1) — always with one line and nothing written. That the generated code
//! compiles, lints clean and passes its own tests is proven by CI (ci/test-scaffold.sh).

mod common;

use std::path::{Path, PathBuf};

use common::run_binary;

/// A copy of the files `generate` reads and edits, in a fresh folder.
fn project_copy() -> tempfile::TempDir {
    let source = Path::new(env!("CARGO_MANIFEST_DIR"));
    let copy = tempfile::tempdir().unwrap();
    for folder in ["src/entities", "src/http", "migration/src", "tests"] {
        copy_folder(&source.join(folder), &copy.path().join(folder));
    }
    std::fs::copy(source.join("Cargo.toml"), copy.path().join("Cargo.toml")).unwrap();
    copy
}

fn copy_folder(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_folder(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn read(dir: &Path, relative: &str) -> String {
    std::fs::read_to_string(dir.join(relative)).unwrap()
}

/// Every file under `dir` with its contents, to prove a refusal wrote nothing.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(folder) = pending.pop() {
        for entry in std::fs::read_dir(folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let contents = std::fs::read(&path).unwrap();
                files.push((path, contents));
            }
        }
    }
    files.sort();
    files
}

async fn generate(dir: &Path, args: &[&str]) -> std::process::Output {
    let mut full = vec!["generate", "resource"];
    full.extend_from_slice(args);
    run_binary(dir, &full, &[]).await
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test]
async fn a_resource_is_written_and_registered_everywhere() {
    let project = project_copy();
    let dir = project.path();
    let output = generate(
        dir,
        &[
            "book",
            "title:string",
            "pages:int",
            "price:decimal",
            "--owned",
            "--soft-delete",
        ],
    )
    .await;
    assert!(output.status.success(), "{}", stderr(&output));
    let report = String::from_utf8_lossy(&output.stdout);
    for file in [
        "src/entities/books.rs",
        "src/http/books/mod.rs",
        "src/http/books/dto.rs",
        "src/http/books/admin.rs",
        "tests/books.rs",
    ] {
        assert!(dir.join(file).is_file(), "{file} missing");
        assert!(report.contains(file), "{file} not reported: {report}");
    }
    let migrations: Vec<String> = std::fs::read_dir(dir.join("migration/src"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with("_create_books.rs") || name.ends_with("_books_policy.rs"))
        .collect();
    assert_eq!(migrations.len(), 2, "{migrations:?}");
    for migration in &migrations {
        let module = migration.trim_end_matches(".rs");
        let migrator = read(dir, "migration/src/lib.rs");
        assert!(migrator.contains(&format!("mod {module};")), "{migrator}");
        assert!(migrator.contains(&format!("Box::new({module}::Migration),")));
    }
    assert!(read(dir, "src/entities/mod.rs").contains("pub mod books;\n"));
    let http = read(dir, "src/http/mod.rs");
    assert!(http.contains("pub mod books;\n") && http.contains(".merge(books::routes())"));
    assert!(read(dir, "src/http/openapi.rs").contains("(name = \"books\""));
    assert!(read(dir, "Cargo.toml").contains("\"with-rust_decimal\","));
    let routes = read(dir, "src/http/books/mod.rs");
    assert!(routes.contains("path = \"/books/{id}\""), "{routes}");
    assert!(
        routes.contains("find_writable"),
        "--owned adds the owner check"
    );
    let dto = read(dir, "src/http/books/dto.rs");
    assert!(dto.contains("custom(function = \"single_line\")"), "{dto}");
    assert!(dto.contains("custom(function = \"decimal_text\")"), "{dto}");

    // A second resource goes in beside the first, in rustfmt's order; no decimal this time.
    let output = generate(dir, &["author", "name:string"]).await;
    assert!(output.status.success(), "{}", stderr(&output));
    let entities = read(dir, "src/entities/mod.rs");
    let authors = entities.find("pub mod authors;").unwrap();
    assert!(authors < entities.find("pub mod books;").unwrap());
    assert!(!dir.join("src/http/authors/admin.rs").exists());
}

#[tokio::test]
async fn bad_names_and_types_exit_2_with_one_line_and_write_nothing() {
    let project = project_copy();
    let dir = project.path();
    let before = snapshot(dir);
    for (args, reason) in [
        (&["Book", "title:string"][..], "snake_case"),
        (&["book-club", "title:string"], "snake_case"),
        (&["2books", "title:string"], "snake_case"),
        (&["type", "title:string"], "Rust keyword"),
        (&["select", "title:string"], "reserved SQL word"),
        (&["user", "title:string"], "reserved SQL word"),
        (&["users", "title:string"], "looks plural"),
        (&["admin", "title:string"], "taken by the framework"),
        (&["a_very_long_resource_name", "x:int"], "longer than"),
        (&["book"], "at least one field"),
        (&["book", "title"], "not name:type"),
        (&["book", "title:varchar"], "unknown type `varchar`"),
        (&["book", "id:uuid"], "reserved"),
        (&["book", "owner_id:uuid"], "reserved"),
        (&["book", "fn:int"], "Rust keyword"),
        (&["book", "order:int"], "reserved SQL word"),
        (&["book", "a:int", "a:bool"], "twice"),
        (&["book", "title:string", "--plural", "Books"], "snake_case"),
    ] {
        let output = generate(dir, args).await;
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            stderr(&output)
        );
        let message = stderr(&output);
        assert!(message.contains(reason), "{args:?}: {message}");
        assert_eq!(message.trim_end().lines().count(), 1, "{args:?}: {message}");
    }
    assert!(
        snapshot(dir) == before,
        "a refused generation changed files"
    );
}

#[tokio::test]
async fn existing_files_are_never_overwritten() {
    let project = project_copy();
    let dir = project.path();
    let output = generate(dir, &["book", "title:string"]).await;
    assert!(output.status.success(), "{}", stderr(&output));
    let before = snapshot(dir);
    let output = generate(dir, &["book", "title:string", "pages:int"]).await;
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("collide"), "{}", stderr(&output));
    assert!(snapshot(dir) == before);

    // A test file of the same name, alone, is enough to refuse.
    std::fs::write(dir.join("tests/notes.rs"), "// mine\n").unwrap();
    let output = generate(dir, &["note", "text:text"]).await;
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("tests/notes.rs"),
        "{}",
        stderr(&output)
    );
    assert_eq!(read(dir, "tests/notes.rs"), "// mine\n");
    assert!(!dir.join("src/entities/notes.rs").exists());
}

#[tokio::test]
async fn a_missing_marker_is_named_and_nothing_is_written() {
    let project = project_copy();
    let dir = project.path();
    let http = read(dir, "src/http/mod.rs").replace("// shaapi:resource-routes", "// routes");
    std::fs::write(dir.join("src/http/mod.rs"), http).unwrap();
    let before = snapshot(dir);
    let output = generate(dir, &["book", "title:string"]).await;
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(
        message.contains("src/http/mod.rs") && message.contains("shaapi:resource-routes"),
        "{message}"
    );
    assert_eq!(message.trim_end().lines().count(), 1, "{message}");
    assert!(snapshot(dir) == before);
}

#[tokio::test]
async fn outside_a_project_it_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let output = generate(dir.path(), &["book", "title:string"]).await;
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("no project here"),
        "{}",
        stderr(&output)
    );
}
