//! A bounded least-recently-used map from u64 keys (table or cluster/grain/block offsets), shared
//! by the container readers for their table and data caches. Lookups are
//! O(1); when the map is full the older half is evicted at once, so a hostile image with
//! thousands of tiny tables cannot make every insertion scan the whole map.

use std::collections::HashMap;

pub struct Lru<V> {
    slots: usize,
    tick: u64,
    items: HashMap<u64, (u64, V)>,
}

impl<V: Clone> Lru<V> {
    pub fn new(slots: usize) -> Self {
        Lru {
            slots: slots.max(1),
            tick: 0,
            items: HashMap::new(),
        }
    }

    pub fn get(&mut self, key: u64) -> Option<V> {
        self.tick += 1;
        let tick = self.tick;
        self.items.get_mut(&key).map(|(used, v)| {
            *used = tick;
            v.clone()
        })
    }

    pub fn put(&mut self, key: u64, value: V) {
        self.tick += 1;
        if self.items.len() >= self.slots && !self.items.contains_key(&key) {
            let mut ticks: Vec<u64> = self.items.values().map(|(used, _)| *used).collect();
            let mid = ticks.len() / 2;
            let (_, median, _) = ticks.select_nth_unstable(mid);
            let median = *median;
            self.items.retain(|_, (used, _)| *used >= median);
        }
        self.items.insert(key, (self.tick, value));
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn slots(&self) -> usize {
        self.slots
    }
}

#[cfg(test)]
mod tests {
    use super::Lru;

    #[test]
    fn evicts_the_least_recently_used() {
        let mut l = Lru::new(2);
        l.put(1, "a");
        l.put(2, "b");
        assert_eq!(l.get(1), Some("a"));
        l.put(3, "c");
        assert_eq!(l.get(2), None);
        assert_eq!((l.get(1), l.get(3)), (Some("a"), Some("c")));
        let mut big = Lru::new(100);
        for k in 0..1000 {
            big.put(k, k);
            assert!(big.len() <= 100);
        }
        assert_eq!(big.get(999), Some(999));
    }
}
