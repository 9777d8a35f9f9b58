//! What a replay found wrong in one fixture file: every mismatch counted, the first few
//! kept to print (a file that is wrong everywhere would otherwise print thousands of lines).

/// The mismatches of one fixture file.
#[derive(Debug, Default)]
pub struct Mismatches {
    count: usize,
    shown: Vec<String>,
}

impl Mismatches {
    /// How many messages are kept to print.
    pub const SHOWN: usize = 8;

    /// Records a mismatch.
    pub fn push(&mut self, message: String) {
        self.count += 1;
        if self.shown.len() < Self::SHOWN {
            self.shown.push(message);
        }
    }

    /// How many were recorded.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Prints `FAIL {name}` with the count and the first messages.
    pub fn print(&self, name: &str) {
        println!("FAIL {name}: {} mismatch(es)", self.count);
        for message in &self.shown {
            println!("    {message}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_every_mismatch_and_keeps_the_first_few() {
        let mut m = Mismatches::default();
        assert_eq!(m.count(), 0);
        for k in 0..20 {
            m.push(format!("value {k}"));
        }
        assert_eq!(m.count(), 20);
        assert_eq!(m.shown.len(), Mismatches::SHOWN);
        assert_eq!(m.shown[0], "value 0");
    }
}
