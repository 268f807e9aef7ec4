//! The `wyvern` command.

fn main() {}
