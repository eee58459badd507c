//! One file per user verb; `main` maps errors to exit codes (0 ok, 1 failed, 2 usage/config, 3 engine unreachable).

pub fn main() -> i32 {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match crate::cli::parse(&args) {
        Ok(_) => 2,
        Err(crate::cli::UsageError::Help(text)) => {
            print!("{text}");
            0
        }
        Err(e) => {
            eprintln!("dops: error: {e}");
            2
        }
    }
}
