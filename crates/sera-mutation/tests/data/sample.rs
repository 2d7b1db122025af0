use std::collections::BTreeMap;

pub struct Stock {
    items: BTreeMap<String, u32>,
    log: Vec<String>,
}

impl Stock {
    pub fn take(&mut self, name: &str, count: u32) -> Result<u32, String> {
        if count == 0 {
            return Err("nothing to take".to_string());
        }
        let have = self.get(name).ok_or_else(|| name.to_string())?;
        if have < count {
            return Err(format!("only {have} left"));
        }
        self.items.insert(name.to_string(), have - count);
        self.log.push(name.trim().to_lowercase());
        Ok(have - count)
    }

    pub fn get(&self, name: &str) -> Option<u32> {
        self.items.get(name).copied()
    }

    pub fn label(&self, name: &str) -> String {
        let mut total = 0;
        for (key, value) in &self.items {
            if key.starts_with(name) && !key.is_empty() {
                total += value;
            }
        }
        match total {
            0 => "none".to_string(),
            1 => "one".to_string(),
            _ => format!("{} of {}", total, name),
        }
    }
}

pub fn window(values: &[i64], from: usize, to: usize) -> i64 {
    let mut sum = 0;
    for i in from..to {
        sum += values[i] * 2;
    }
    sum |= (to as i64) & 1;
    if sum > 100 { 100 } else { sum % 7 }
}

pub unsafe fn raw(p: *const u8) -> u8 {
    *p + 1
}

#[cfg(test)]
mod tests {
    #[test]
    fn window_sums() {
        assert_eq!(super::window(&[1, 2], 0, 2), 6);
    }
}
