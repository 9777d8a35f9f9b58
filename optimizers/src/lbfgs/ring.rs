//! A fixed-capacity ring buffer: the storage of the L-BFGS curvature history.
//!
//! Torch keeps `old_dirs` and `old_stps` in Python lists and drops the oldest pair with
//! `pop(0)`, which shifts every remaining pair. Here a full ring overwrites its oldest slot
//! in place and hands the evicted item back, so that its vectors become the buffers of the
//! next pair: nothing is shifted and nothing is allocated once the history is full.

/// Slots reserved up front by [`Ring::with_capacity`]; beyond this the storage grows as
/// items are pushed, so that a huge `history_size` does not reserve memory it may never use.
const PREALLOCATE_LIMIT: usize = 1024;

/// A ring buffer holding at most `capacity` items, oldest first.
///
/// [`push`](Ring::push) on a full ring overwrites the oldest slot and returns the evicted
/// item. Index 0 of [`get`](Ring::get) and the front of [`iter`](Ring::iter) are the oldest.
#[derive(Clone, Debug)]
pub(crate) struct Ring<T> {
    /// Storage; once full, `slots[head]` is the oldest item.
    slots: Vec<T>,
    /// Position of the oldest item in `slots` (always 0 until the ring is full).
    head: usize,
    capacity: usize,
}

impl<T> Ring<T> {
    /// An empty ring that keeps at most `capacity` items. A ring of capacity 0 keeps
    /// nothing: `push` hands the item straight back.
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Ring {
            slots: Vec::with_capacity(capacity.min(PREALLOCATE_LIMIT)),
            head: 0,
            capacity,
        }
    }

    /// A ring built from items listed oldest first (torch's `old_dirs` order). If there are
    /// more than `capacity` items, only the newest `capacity` are kept.
    pub(crate) fn from_vec(capacity: usize, mut items: Vec<T>) -> Self {
        let excess = items.len().saturating_sub(capacity);
        items.drain(..excess);
        Ring {
            slots: items,
            head: 0,
            capacity,
        }
    }

    /// The most items the ring keeps.
    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    /// The number of items held.
    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether the ring holds `capacity` items (the next push evicts the oldest).
    pub(crate) fn is_full(&self) -> bool {
        self.slots.len() >= self.capacity
    }

    /// Appends `value` as the newest item. On a full ring the oldest item is evicted: its
    /// slot receives `value` and the evicted item is returned. With capacity 0, `value`
    /// itself is returned.
    pub(crate) fn push(&mut self, value: T) -> Option<T> {
        if self.capacity == 0 {
            return Some(value);
        }
        if self.slots.len() < self.capacity {
            self.slots.push(value);
            return None;
        }
        // `head < slots.len()` always holds (it wraps below), and the ring is not empty here.
        let old = std::mem::replace(&mut self.slots[self.head], value);
        self.head += 1;
        if self.head == self.slots.len() {
            self.head = 0;
        }
        Some(old)
    }

    /// The `i`-th item, 0 being the oldest.
    pub(crate) fn get(&self, i: usize) -> Option<&T> {
        if i >= self.slots.len() {
            return None;
        }
        let p = self.head + i;
        let p = if p >= self.slots.len() { p - self.slots.len() } else { p };
        self.slots.get(p)
    }

    /// Iterates oldest → newest; `.rev()` iterates newest → oldest.
    pub(crate) fn iter(&self) -> Iter<'_, T> {
        Iter {
            ring: Some(self),
            front: 0,
            back: self.slots.len(),
        }
    }

    /// Removes every item (keeps the capacity).
    pub(crate) fn clear(&mut self) {
        self.slots.clear();
        self.head = 0;
    }

    /// Changes the capacity, keeping the newest items that fit (the oldest are dropped when
    /// shrinking below `len()`). Order is preserved.
    pub(crate) fn set_capacity(&mut self, capacity: usize) {
        if capacity == self.capacity {
            return;
        }
        let items = std::mem::replace(self, Ring::with_capacity(0)).into_vec();
        *self = Ring::from_vec(capacity, items);
    }

    /// The items, oldest first.
    pub(crate) fn into_vec(mut self) -> Vec<T> {
        self.slots.rotate_left(self.head);
        self.slots
    }
}

impl<'a, T> IntoIterator for &'a Ring<T> {
    type Item = &'a T;
    type IntoIter = Iter<'a, T>;
    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}

/// Iterator over a [`Ring`], oldest → newest (double-ended).
#[derive(Clone, Debug)]
pub(crate) struct Iter<'a, T> {
    /// `None` for the iterator over an absent ring, which yields nothing.
    ring: Option<&'a Ring<T>>,
    front: usize,
    back: usize,
}

impl<T> Iter<'_, T> {
    /// An iterator that yields nothing (over an absent ring).
    pub(crate) fn empty() -> Self {
        Iter {
            ring: None,
            front: 0,
            back: 0,
        }
    }
}

impl<'a, T> Iterator for Iter<'a, T> {
    type Item = &'a T;
    fn next(&mut self) -> Option<&'a T> {
        if self.front < self.back {
            let item = self.ring?.get(self.front);
            self.front += 1;
            item
        } else {
            None
        }
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.back - self.front;
        (n, Some(n))
    }
}

impl<T> DoubleEndedIterator for Iter<'_, T> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.front < self.back {
            self.back -= 1;
            self.ring?.get(self.back)
        } else {
            None
        }
    }
}

impl<T> ExactSizeIterator for Iter<'_, T> {}
impl<T> std::iter::FusedIterator for Iter<'_, T> {}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(r: &Ring<i32>) -> Vec<i32> {
        r.iter().copied().collect()
    }

    #[test]
    fn fills_then_wraps_in_place() {
        let mut r = Ring::with_capacity(3);
        assert_eq!(r.len(), 0);
        assert_eq!(r.push(1), None);
        assert_eq!(r.push(2), None);
        assert!(!r.is_full());
        assert_eq!(r.push(3), None);
        assert!(r.is_full());
        assert_eq!(items(&r), [1, 2, 3]);
        assert_eq!(r.push(4), Some(1));
        assert_eq!(r.push(5), Some(2));
        assert_eq!(items(&r), [3, 4, 5]);
        assert_eq!(r.push(6), Some(3));
        assert_eq!(r.push(7), Some(4));
        assert_eq!(items(&r), [5, 6, 7]);
        assert_eq!(r.len(), 3);
        assert_eq!(r.capacity(), 3);
    }

    #[test]
    fn order_both_ways_and_indexing() {
        let mut r = Ring::with_capacity(4);
        for v in 0..10 {
            r.push(v);
        }
        assert_eq!(items(&r), [6, 7, 8, 9]);
        assert_eq!(r.iter().rev().copied().collect::<Vec<_>>(), [9, 8, 7, 6]);
        assert_eq!(r.get(0), Some(&6));
        assert_eq!(r.get(3), Some(&9));
        assert_eq!(r.get(4), None);
        let mut it = r.iter();
        assert_eq!(it.len(), 4);
        assert_eq!(it.next(), Some(&6));
        assert_eq!(it.next_back(), Some(&9));
        assert_eq!(it.len(), 2);
        assert_eq!(it.next(), Some(&7));
        assert_eq!(it.next_back(), Some(&8));
        assert_eq!(it.next(), None);
        assert_eq!(it.next_back(), None);
        assert_eq!(r.clone().into_vec(), vec![6, 7, 8, 9]);
    }

    #[test]
    fn evicted_allocation_is_handed_back() {
        let mut r: Ring<Vec<u8>> = Ring::with_capacity(2);
        r.push(Vec::with_capacity(64));
        r.push(vec![1]);
        let evicted = r.push(vec![2]).expect("full ring evicts");
        assert!(evicted.capacity() >= 64);
    }

    #[test]
    fn from_vec_keeps_newest() {
        let r = Ring::from_vec(3, vec![1, 2, 3, 4, 5]);
        assert_eq!(items(&r), [3, 4, 5]);
        let mut r = Ring::from_vec(3, vec![1, 2]);
        assert_eq!(items(&r), [1, 2]);
        assert_eq!(r.push(3), None);
        assert_eq!(r.push(4), Some(1));
    }

    #[test]
    fn capacity_change_keeps_newest_in_order() {
        let mut r = Ring::with_capacity(4);
        for v in 0..6 {
            r.push(v); // wrapped: holds 2, 3, 4, 5 with head != 0
        }
        r.set_capacity(6);
        assert_eq!(items(&r), [2, 3, 4, 5]);
        assert_eq!(r.push(6), None);
        assert_eq!(r.push(7), None);
        assert_eq!(r.push(8), Some(2));
        assert_eq!(items(&r), [3, 4, 5, 6, 7, 8]);
        r.set_capacity(2);
        assert_eq!(items(&r), [7, 8]);
        assert_eq!(r.push(9), Some(7));
        assert_eq!(items(&r), [8, 9]);
        r.set_capacity(0);
        assert_eq!(r.len(), 0);
        assert_eq!(r.push(1), Some(1));
        r.set_capacity(1);
        assert_eq!(r.push(1), None);
        assert_eq!(items(&r), [1]);
    }

    #[test]
    fn clear_keeps_capacity() {
        let mut r = Ring::with_capacity(2);
        r.push(1);
        r.push(2);
        r.push(3);
        r.clear();
        assert_eq!(r.len(), 0);
        assert_eq!(r.capacity(), 2);
        r.push(4);
        assert_eq!(items(&r), [4]);
    }
}
