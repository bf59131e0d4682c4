//! A small least-recently-used map with a count bound (tree nodes, decompressed extents).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

pub struct Lru<V> {
    map: HashMap<u64, (Arc<V>, u64)>,
    order: BTreeMap<u64, u64>,
    tick: u64,
    capacity: usize,
}

impl<V> Lru<V> {
    pub fn new(capacity: usize) -> Self {
        Lru {
            map: HashMap::new(),
            order: BTreeMap::new(),
            tick: 0,
            capacity: capacity.max(1),
        }
    }

    pub fn get(&mut self, key: u64) -> Option<Arc<V>> {
        self.tick += 1;
        let tick = self.tick;
        let (value, used) = self.map.get_mut(&key)?;
        self.order.remove(used);
        *used = tick;
        self.order.insert(tick, key);
        Some(Arc::clone(value))
    }

    pub fn insert(&mut self, key: u64, value: Arc<V>) {
        self.tick += 1;
        if let Some((_, used)) = self.map.remove(&key) {
            self.order.remove(&used);
        }
        while self.map.len() >= self.capacity {
            let Some((_, old)) = self.order.pop_first() else {
                break;
            };
            self.map.remove(&old);
        }
        self.map.insert(key, (value, self.tick));
        self.order.insert(self.tick, key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_the_least_recently_used() {
        let mut l = Lru::new(2);
        l.insert(1, Arc::new(1));
        l.insert(2, Arc::new(2));
        assert!(l.get(1).is_some());
        l.insert(3, Arc::new(3));
        assert!(l.get(2).is_none());
        assert!(l.get(1).is_some() && l.get(3).is_some());
    }
}
