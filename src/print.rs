//! `print!`, `println!`, `eprint!` and `eprintln!` for the whole crate, in place of std's
//! (these are declared before every other module, so their names mean these everywhere
//! in it): the same formatting, but a write that fails is dropped instead of panicking.
//! Standard output or error may be a closed pipe (`nasc export 1 | head -c 10`) or a full
//! file (`2>/dev/full`); nasc's other writes to them already drop such errors, and a run
//! keeps its results in its store whatever happens to its terminal.

macro_rules! print {
    ($($arg:tt)*) => {{
        use ::std::io::Write as _;
        let _ = ::std::write!(::std::io::stdout().lock(), $($arg)*);
    }};
}

macro_rules! println {
    () => {{
        use ::std::io::Write as _;
        let _ = ::std::writeln!(::std::io::stdout().lock());
    }};
    ($($arg:tt)*) => {{
        use ::std::io::Write as _;
        let _ = ::std::writeln!(::std::io::stdout().lock(), $($arg)*);
    }};
}

macro_rules! eprint {
    ($($arg:tt)*) => {{
        use ::std::io::Write as _;
        let _ = ::std::write!(::std::io::stderr().lock(), $($arg)*);
    }};
}

macro_rules! eprintln {
    () => {{
        use ::std::io::Write as _;
        let _ = ::std::writeln!(::std::io::stderr().lock());
    }};
    ($($arg:tt)*) => {{
        use ::std::io::Write as _;
        let _ = ::std::writeln!(::std::io::stderr().lock(), $($arg)*);
    }};
}
