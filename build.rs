// The versioned migrations are embedded at compile time (refinery's embed_migrations!): rebuild
// when a file is added to or changed in migrations/.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
