//! Group windows: `TUMBLE(t, size)` and `HOP(t, slide, size)`.
//!
//! Windows align to the Unix epoch and are half-open, `[start, end)`. A
//! hopping window of size `size` starts every `slide`; each event belongs to
//! `size / slide` windows. Internally a window is a run of consecutive
//! *panes* of width `gcd(size, slide)`: every event lands in exactly one
//! pane, and a window's result merges its panes' partial aggregates, so a
//! hopping window costs one update per event, not one per window.

use std::fmt;

use quiver_types::time::{format_duration, window_start};

/// A group window of a windowed aggregate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Window {
    /// Fixed, non-overlapping windows of `size` ms.
    Tumble {
        /// Window length in ms.
        size: i64,
    },
    /// Overlapping windows of `size` ms starting every `slide` ms.
    Hop {
        /// Distance between window starts in ms.
        slide: i64,
        /// Window length in ms.
        size: i64,
    },
}

fn gcd(a: i64, b: i64) -> i64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

impl Window {
    /// Window length in ms.
    pub fn size(&self) -> i64 {
        match self {
            Window::Tumble { size } | Window::Hop { size, .. } => *size,
        }
    }

    /// Distance between window starts in ms.
    pub fn slide(&self) -> i64 {
        match self {
            Window::Tumble { size } => *size,
            Window::Hop { slide, .. } => *slide,
        }
    }

    /// Width of a pane: the largest interval that evenly divides both size and slide.
    pub fn pane(&self) -> i64 {
        gcd(self.size(), self.slide())
    }

    /// Start of the pane containing `t`.
    pub fn pane_start(&self, t: i64) -> i64 {
        window_start(t, self.pane())
    }

    /// The ends of all windows containing the pane that starts at `pane`,
    /// in increasing order.
    pub fn window_ends_of_pane(&self, pane: i64) -> impl Iterator<Item = i64> + use<> {
        let (size, slide) = (self.size(), self.slide());
        // Windows [s, s + size) with s a multiple of slide, s <= pane < s + size.
        let last_start = window_start(pane, slide);
        let first_start = window_start(pane - size, slide) + slide;
        (0..)
            .map(move |k| first_start + k * slide)
            .take_while(move |s| *s <= last_start)
            .map(move |s| s + size)
    }

    /// The SQL spelling of the grouping function.
    pub fn sql(&self) -> String {
        match self {
            Window::Tumble { size } => format!("TUMBLE({})", format_duration(*size)),
            Window::Hop { slide, size } => format!(
                "HOP(slide {}, size {})",
                format_duration(*slide),
                format_duration(*size)
            ),
        }
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.sql())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panes_and_window_ends() {
        let w = Window::Hop {
            slide: 60,
            size: 600,
        };
        assert_eq!(w.pane(), 60);
        let ends: Vec<i64> = w.window_ends_of_pane(0).collect();
        assert_eq!(ends, (1..=10).map(|k| k * 60).collect::<Vec<_>>());
        let w = Window::Hop { slide: 4, size: 6 };
        assert_eq!(w.pane(), 2);
        // pane [4, 6) is in windows [0, 6) and [4, 10)
        assert_eq!(w.window_ends_of_pane(4).collect::<Vec<_>>(), vec![6, 10]);
        // pane [6, 8) is in [4, 10) only ([8, 14) starts later)
        assert_eq!(w.window_ends_of_pane(6).collect::<Vec<_>>(), vec![10]);
        let t = Window::Tumble { size: 10 };
        assert_eq!(t.window_ends_of_pane(-10).collect::<Vec<_>>(), vec![0]);
    }
}
