package store

import "time"

// The decisions below are the memory store's, and the Lua scripts in
// redis.go do the same arithmetic (in microseconds, since Lua numbers are
// doubles); the tests run both against the same cases.

// gcra applies rate r to a bucket whose theoretical arrival time is tat
// (unix ns; anything <= now is an idle, full bucket), asking for n calls at
// now. It returns the new tat and the grant.
//
// A call conforms when, after it, tat - now <= Burst*Interval: the bucket
// holds Burst calls and drains one per Interval.
func gcra(tat, now int64, r Rate, n int) (int64, Grant) {
	t, burst := int64(r.Interval), int64(r.Burst)
	if tat < now {
		tat = now
	}
	room := now + burst*t - tat // >= 0 while at least part of a call fits
	k := int64(0)
	if room > 0 {
		k = min(room/t, int64(n))
	}
	if k == 0 {
		return tat, Grant{RetryAfter: time.Duration(tat + t - burst*t - now), Reset: time.Duration(tat - now)}
	}
	tat += k * t
	return tat, Grant{Granted: int(k), Remaining: int((now + burst*t - tat) / t), Reset: time.Duration(tat - now)}
}

// slotsOf returns a rolling window's slot length (>= 1ns) and the slot
// number now falls in.
func slotsOf(w Window, now int64) (slot, cur int64) {
	slot = max(int64(w.Length)/int64(w.Slots), 1)
	return slot, now / slot
}

// rolling is a rolling window's counts: ring[e % len(ring)] holds slot e's
// count for the len(ring) slots up to last.
type rolling struct {
	last int64
	ring []int64
}

// advance moves the window to slot cur, zeroing the slots that left it.
func (r *rolling) advance(cur int64) {
	n := int64(len(r.ring))
	switch {
	case cur <= r.last:
		return
	case cur-r.last >= n:
		clear(r.ring)
	default:
		for e := r.last + 1; e <= cur; e++ {
			r.ring[e%n] = 0
		}
	}
	r.last = cur
}

// count applies Count's rule to r at slot cur (after advance): add n when
// the sum stays within limit; on refusal, find when enough old slots will
// have left.
func (r *rolling) count(cur, slot, now, n, limit int64) Tally {
	size := int64(len(r.ring))
	var sum int64
	for _, c := range r.ring {
		sum += c
	}
	reset := func() time.Duration {
		for e := cur - size + 1; e <= cur; e++ {
			if r.ring[e%size] != 0 {
				return time.Duration((e+size)*slot - now)
			}
		}
		return 0
	}
	if limit >= 0 && sum+n > limit {
		t := Tally{Count: sum, Reset: reset()}
		if n <= limit {
			freed := int64(0)
			for e := cur - size + 1; e <= cur; e++ {
				freed += r.ring[e%size]
				if sum-freed+n <= limit {
					t.RetryAfter = time.Duration((e+size)*slot - now)
					break
				}
			}
		}
		return t
	}
	r.ring[cur%size] += n
	return Tally{Added: true, Count: sum + n, Reset: reset()}
}
