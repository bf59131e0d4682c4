/// A tiny least-recently-used map from u64 keys; linear scans are fine for the few dozen
/// entries the QCOW2 reader keeps.
pub struct Lru<V> {
    slots: usize,
    tick: u64,
    items: Vec<(u64, u64, V)>,
}

impl<V: Clone> Lru<V> {
    pub fn new(slots: usize) -> Self {
        Lru {
            slots: slots.max(1),
            tick: 0,
            items: Vec::new(),
        }
    }

    pub fn get(&mut self, key: u64) -> Option<V> {
        self.tick += 1;
        let tick = self.tick;
        self.items
            .iter_mut()
            .find(|(k, _, _)| *k == key)
            .map(|(_, used, v)| {
                *used = tick;
                v.clone()
            })
    }

    pub fn put(&mut self, key: u64, value: V) {
        self.tick += 1;
        if self.items.len() >= self.slots
            && let Some(oldest) = self
                .items
                .iter()
                .enumerate()
                .min_by_key(|(_, (_, used, _))| *used)
                .map(|(i, _)| i)
        {
            self.items.swap_remove(oldest);
        }
        self.items.push((key, self.tick, value));
    }
}
