//! When the subscribe connection is offered again, and what becomes of the tracks an offer
//! added: the server-side half of the offer/answer dance, pure and told the time (tested on
//! virtual time like the room engine). The media actor executes what it says.
//!
//! One offer is out at a time. While it is, changes to what the participant may receive only
//! mark the connection dirty; the next offer goes out when the answer arrives or the wait for
//! it ends. Tracks an offer added start forwarding once answered *and* the connection is up;
//! unanswered ones are rolled back. A resumed session gets the unanswered offer again, with a
//! fresh wait.

use std::time::{Duration, Instant};

/// The negotiation of one subscribe connection; `K` names a track on it.
#[derive(Debug)]
pub(crate) struct Negotiation<K> {
    /// How long an offer waits for its answer.
    timeout: Duration,
    /// The offer out: the tracks it adds, and when waiting for its answer ends.
    awaiting: Option<(Vec<K>, Instant)>,
    /// What the participant may receive changed since the last offer.
    dirty: bool,
    /// Tracks were taken off the connection since the last offer (worth an offer even when
    /// nothing is added).
    removed: bool,
    /// Answered tracks waiting for the connection to come up.
    unconnected: Vec<K>,
}

impl<K> Negotiation<K> {
    /// Nothing offered yet; offers wait `timeout` for their answer.
    pub(crate) fn new(timeout: Duration) -> Self {
        Self {
            timeout,
            awaiting: None,
            dirty: false,
            removed: false,
            unconnected: Vec::new(),
        }
    }

    /// The room changed what the participant may receive.
    pub(crate) fn handle_wanted_changed(&mut self) {
        self.dirty = true;
    }

    /// A track was taken off the connection.
    pub(crate) fn handle_removed(&mut self) {
        self.removed = true;
    }

    /// The client answered. Returns the tracks the offer added (to apply the answer to), or
    /// `None` for an answer to no offer (a duplicate, or one after the wait ended).
    pub(crate) fn handle_answer(&mut self) -> Option<Vec<K>> {
        let (added, _) = self.awaiting.take()?;
        self.dirty = true;
        Some(added)
    }

    /// The answer was applied: the tracks to start now (the connection is `up`); the others
    /// start when it comes up ([`Self::handle_connected`]).
    pub(crate) fn handle_applied(&mut self, added: Vec<K>, up: bool) -> Vec<K> {
        if up {
            added
        } else {
            self.unconnected.extend(added);
            Vec::new()
        }
    }

    /// The connection came up: the answered tracks waiting for it.
    pub(crate) fn handle_connected(&mut self) -> Vec<K> {
        std::mem::take(&mut self.unconnected)
    }

    /// Whether answered tracks wait for the connection to come up.
    pub(crate) fn waits_for_connection(&self) -> bool {
        !self.unconnected.is_empty()
    }

    /// Time passed: an offer unanswered by its deadline is given up. Returns the tracks it
    /// added, to roll back.
    pub(crate) fn handle_timeout(&mut self, now: Instant) -> Option<Vec<K>> {
        match &self.awaiting {
            Some((_, deadline)) if *deadline <= now => {
                let (added, _) = self.awaiting.take()?;
                self.dirty = true;
                Some(added)
            }
            _ => None,
        }
    }

    /// The session resumed on a new socket: whether the offer out must be sent again (the old
    /// socket may never have delivered it); its wait starts afresh.
    pub(crate) fn handle_rebind(&mut self, now: Instant) -> bool {
        match &mut self.awaiting {
            Some((_, deadline)) => {
                *deadline = now + self.timeout;
                true
            }
            None => false,
        }
    }

    /// The connection is gone (the media plane closed it): nothing is out or waits on it any
    /// more, and what the participant may receive is offered afresh, on a new one.
    pub(crate) fn handle_lost(&mut self) {
        self.awaiting = None;
        self.unconnected.clear();
        self.removed = false;
        self.dirty = true;
    }

    /// Whether to renegotiate now: something changed and no offer is out. Taken once: the
    /// caller renegotiates and reports with [`Self::offered`].
    pub(crate) fn poll_renegotiate(&mut self) -> bool {
        if self.dirty && self.awaiting.is_none() {
            self.dirty = false;
            true
        } else {
            false
        }
    }

    /// Whether a renegotiation that adds `adding` tracks needs an offer at all (something was
    /// removed since the last one, or something is added).
    pub(crate) fn take_offer_needed(&mut self, adding: bool) -> bool {
        if !adding && !self.removed {
            return false;
        }
        self.removed = false;
        true
    }

    /// The renegotiation's outcome: an offer adding `added` went out at `now` (`None`: no
    /// offer, or it failed and its tracks were rolled back).
    pub(crate) fn offered(&mut self, now: Instant, added: Option<Vec<K>>) {
        self.awaiting = added.map(|a| (a, now + self.timeout));
    }

    /// When to call [`Self::handle_timeout`] next.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.awaiting.as_ref().map(|(_, d)| *d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WAIT: Duration = Duration::from_secs(10);

    fn at(base: Instant, ms: u64) -> Instant {
        base + Duration::from_millis(ms)
    }

    /// A change, then the offer it leads to, adding `added`.
    fn offer(n: &mut Negotiation<&'static str>, now: Instant, added: Vec<&'static str>) {
        assert!(n.poll_renegotiate(), "a change leads to a renegotiation");
        assert!(n.take_offer_needed(!added.is_empty()));
        n.offered(now, Some(added));
    }

    #[test]
    fn an_answer_in_time_starts_the_added_tracks_once_the_connection_is_up() {
        let t0 = Instant::now();
        let mut n = Negotiation::new(WAIT);
        n.handle_wanted_changed();
        offer(&mut n, t0, vec!["a", "b"]);
        assert_eq!(n.poll_timeout(), Some(at(t0, 10_000)));
        let added = n.handle_answer().expect("an offer is out");
        assert_eq!(n.handle_applied(added, false), Vec::<&str>::new());
        assert!(n.waits_for_connection());
        assert_eq!(n.handle_connected(), vec!["a", "b"]);
        assert!(!n.waits_for_connection());
        assert_eq!(
            n.poll_timeout(),
            None,
            "nothing waits for an answer any more"
        );
    }

    #[test]
    fn an_answer_on_a_connection_already_up_starts_the_tracks_at_once() {
        let t0 = Instant::now();
        let mut n = Negotiation::new(WAIT);
        n.handle_wanted_changed();
        offer(&mut n, t0, vec!["a"]);
        let added = n.handle_answer().expect("an offer is out");
        assert_eq!(n.handle_applied(added, true), vec!["a"]);
    }

    #[test]
    fn no_answer_by_the_deadline_rolls_the_offer_back_and_offers_again() {
        let t0 = Instant::now();
        let mut n = Negotiation::new(WAIT);
        n.handle_wanted_changed();
        offer(&mut n, t0, vec!["a"]);
        assert_eq!(n.handle_timeout(at(t0, 9_999)), None, "not yet");
        assert!(!n.poll_renegotiate(), "one offer at a time");
        assert_eq!(n.handle_timeout(at(t0, 10_000)), Some(vec!["a"]));
        assert!(n.poll_renegotiate(), "the tracks are offered again");
        assert_eq!(n.handle_answer(), None, "a late answer answers nothing");
    }

    #[test]
    fn changes_while_an_offer_is_out_wait_for_its_answer() {
        let t0 = Instant::now();
        let mut n = Negotiation::new(WAIT);
        n.handle_wanted_changed();
        offer(&mut n, t0, vec!["a"]);
        n.handle_wanted_changed();
        n.handle_removed();
        assert!(!n.poll_renegotiate(), "the offer out is answered first");
        let added = n.handle_answer().expect("an offer is out");
        assert_eq!(n.handle_applied(added, true), vec!["a"]);
        assert!(n.poll_renegotiate(), "then the change is offered");
        assert!(
            n.take_offer_needed(false),
            "a removal alone is worth an offer"
        );
        n.offered(at(t0, 500), Some(vec![]));
        assert_eq!(n.poll_timeout(), Some(at(t0, 10_500)));
    }

    #[test]
    fn a_change_that_adds_and_removes_nothing_sends_no_offer() {
        let t0 = Instant::now();
        let mut n = Negotiation::<&str>::new(WAIT);
        n.handle_wanted_changed();
        assert!(n.poll_renegotiate());
        assert!(!n.take_offer_needed(false));
        n.offered(t0, None);
        assert_eq!(n.poll_timeout(), None, "no offer is out");
        assert!(!n.poll_renegotiate(), "taken once");
    }

    #[test]
    fn a_resumed_session_gets_the_unanswered_offer_again_with_a_fresh_wait() {
        let t0 = Instant::now();
        let mut n = Negotiation::new(WAIT);
        assert!(!n.handle_rebind(t0), "nothing to send again");
        n.handle_wanted_changed();
        offer(&mut n, t0, vec!["a"]);
        assert!(n.handle_rebind(at(t0, 8_000)));
        assert_eq!(
            n.handle_timeout(at(t0, 10_000)),
            None,
            "the wait started afresh"
        );
        assert_eq!(n.poll_timeout(), Some(at(t0, 18_000)));
        assert_eq!(n.handle_timeout(at(t0, 18_000)), Some(vec!["a"]));
    }

    #[test]
    fn a_lost_connection_forgets_its_offer_and_what_waited_and_offers_afresh() {
        let t0 = Instant::now();
        let mut n = Negotiation::new(WAIT);
        n.handle_wanted_changed();
        offer(&mut n, t0, vec!["a"]);
        let added = n.handle_answer().expect("an offer is out");
        assert!(n.handle_applied(added, false).is_empty());
        n.handle_wanted_changed();
        offer(&mut n, at(t0, 100), vec!["b"]);
        n.handle_lost();
        assert_eq!(
            n.handle_answer(),
            None,
            "the offer out went with the connection"
        );
        assert!(
            !n.waits_for_connection(),
            "nothing waits for the lost connection"
        );
        assert_eq!(n.poll_timeout(), None);
        assert!(n.poll_renegotiate(), "what is wanted is offered again");
        assert!(
            !n.take_offer_needed(false),
            "a new connection with nothing to add is not offered"
        );
    }

    #[test]
    fn a_failed_offer_frees_the_connection_for_the_next_change() {
        let t0 = Instant::now();
        let mut n = Negotiation::<&str>::new(WAIT);
        n.handle_wanted_changed();
        assert!(n.poll_renegotiate());
        assert!(n.take_offer_needed(true));
        n.offered(t0, None);
        assert_eq!(n.poll_timeout(), None, "no offer is out");
        n.handle_wanted_changed();
        assert!(n.poll_renegotiate());
    }
}
