fn main() {
    std::process::exit(aelab::cli::main());
}
