//! Loading state as data: a refresh never blanks what is shown, and every failure is visible text.

#[derive(Debug, Clone, PartialEq)]
pub enum Loadable<T> {
    NotRequested,
    /// Loading, still showing the previous value if there was one.
    Loading(Option<T>),
    Ready(T),
    /// Failed, with the reason, still showing the previous value if there was one.
    Failed(String, Option<T>),
}

// Written out: a derive would demand `T: Default`.
#[allow(clippy::derivable_impls)]
impl<T> Default for Loadable<T> {
    fn default() -> Self {
        Loadable::NotRequested
    }
}

impl<T> Loadable<T> {
    pub fn value(&self) -> Option<&T> {
        match self {
            Loadable::NotRequested => None,
            Loadable::Loading(value) | Loadable::Failed(_, value) => value.as_ref(),
            Loadable::Ready(value) => Some(value),
        }
    }

    pub fn value_mut(&mut self) -> Option<&mut T> {
        match self {
            Loadable::NotRequested => None,
            Loadable::Loading(value) | Loadable::Failed(_, value) => value.as_mut(),
            Loadable::Ready(value) => Some(value),
        }
    }

    pub fn is_loading(&self) -> bool {
        matches!(self, Loadable::Loading(_))
    }

    pub fn error(&self) -> Option<&str> {
        match self {
            Loadable::Failed(reason, _) => Some(reason),
            _ => None,
        }
    }

    fn take_value(&mut self) -> Option<T> {
        match std::mem::take(self) {
            Loadable::NotRequested => None,
            Loadable::Loading(value) | Loadable::Failed(_, value) => value,
            Loadable::Ready(value) => Some(value),
        }
    }

    /// Shows `value` (an older one, e.g. from a cache) if nothing is shown yet, keeping whether a
    /// load is under way or failed. False if a value was already there.
    pub fn fill_if_empty(&mut self, value: T) -> bool {
        match self {
            Loadable::NotRequested => *self = Loadable::Ready(value),
            Loadable::Loading(shown @ None) | Loadable::Failed(_, shown @ None) => {
                *shown = Some(value)
            }
            _ => return false,
        }
        true
    }

    pub fn start(&mut self) {
        let previous = self.take_value();
        *self = Loadable::Loading(previous);
    }

    pub fn finish<E: ToString>(&mut self, result: Result<T, E>) {
        *self = match result {
            Ok(value) => Loadable::Ready(value),
            Err(err) => Loadable::Failed(err.to_string(), self.take_value()),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_keeps_the_previous_value_and_failure_keeps_it_too() {
        let mut keys: Loadable<Vec<i32>> = Loadable::default();
        keys.start();
        assert!(keys.is_loading() && keys.value().is_none());
        keys.finish::<String>(Ok(vec![1, 2]));
        keys.start();
        assert_eq!(keys.value(), Some(&vec![1, 2]));
        keys.finish::<String>(Err("server unreachable".into()));
        assert_eq!(keys.error(), Some("server unreachable"));
        assert_eq!(keys.value(), Some(&vec![1, 2]));
    }

    #[test]
    fn an_older_value_fills_only_an_empty_state() {
        let mut keys: Loadable<Vec<i32>> = Loadable::default();
        assert!(keys.fill_if_empty(vec![1]));
        assert_eq!(keys, Loadable::Ready(vec![1]));
        assert!(!keys.fill_if_empty(vec![2]));

        let mut keys: Loadable<Vec<i32>> = Loadable::default();
        keys.start();
        assert!(keys.fill_if_empty(vec![1]));
        assert!(keys.is_loading());
        keys.finish::<String>(Ok(vec![3]));
        assert!(!keys.fill_if_empty(vec![1]));
        assert_eq!(keys.value(), Some(&vec![3]));
    }
}
