//! A small weighted least-recently-used map for decoded metadata (inodes, directories,
//! extent lists), so that resolving path after path does not reread the same blocks.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

pub struct Lru<V> {
    map: HashMap<u64, (Arc<V>, usize, u64)>,
    order: BTreeMap<u64, u64>,
    tick: u64,
    weight: usize,
    capacity: usize,
}

impl<V> Lru<V> {
    pub fn new(capacity: usize) -> Self {
        Lru {
            map: HashMap::new(),
            order: BTreeMap::new(),
            tick: 0,
            weight: 0,
            capacity,
        }
    }

    pub fn get(&mut self, key: u64) -> Option<Arc<V>> {
        self.tick += 1;
        let tick = self.tick;
        let (value, _, used) = self.map.get_mut(&key)?;
        self.order.remove(used);
        *used = tick;
        self.order.insert(tick, key);
        Some(Arc::clone(value))
    }

    /// Insert `value` weighing `weight`; the oldest entries go until the total fits (a value
    /// heavier than the whole capacity is simply not kept).
    pub fn insert(&mut self, key: u64, value: Arc<V>, weight: usize) {
        let weight = weight.max(1);
        if let Some((_, w, used)) = self.map.remove(&key) {
            self.order.remove(&used);
            self.weight -= w;
        }
        if weight > self.capacity {
            return;
        }
        while self.weight + weight > self.capacity {
            let Some((_, old)) = self.order.pop_first() else {
                break;
            };
            if let Some((_, w, _)) = self.map.remove(&old) {
                self.weight -= w;
            }
        }
        self.tick += 1;
        self.order.insert(self.tick, key);
        self.map.insert(key, (value, weight, self.tick));
        self.weight += weight;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_the_least_recently_used_within_the_weight() {
        let mut lru = Lru::new(10);
        lru.insert(1, Arc::new("a"), 4);
        lru.insert(2, Arc::new("b"), 4);
        assert!(lru.get(1).is_some());
        lru.insert(3, Arc::new("c"), 4); // evicts 2, the least recently used
        assert!(lru.get(2).is_none());
        assert!(lru.get(1).is_some() && lru.get(3).is_some());
        lru.insert(4, Arc::new("huge"), 11);
        assert!(lru.get(4).is_none());
        assert!(lru.weight <= 10);
    }
}
