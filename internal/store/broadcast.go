package store

import (
	"context"
	"errors"
	"net"
	"time"

	"github.com/redis/go-redis/v9"
)

// Broadcaster is a store that relays messages between every instance that
// shares it (Redis pub/sub): what one publishes on a channel, the
// subscribers of every instance receive, while they are subscribed.
type Broadcaster interface {
	// Publish sends msg on channel to the subscribers of every instance.
	Publish(ctx context.Context, channel, msg string) error
	// Subscribe delivers channel's messages to s until stop is called or
	// the store closes. s hears first Subscribed(false), then
	// Subscribed(true) each time messages start arriving (and false when
	// the subscription is lost: messages published meanwhile are lost).
	Subscribe(channel string, s Subscriber) (stop func())
}

// Subscriber receives the messages of one channel. Its methods are called
// from one goroutine, and must not block.
type Subscriber interface {
	// Message is one message published on the channel.
	Message(payload string)
	// Subscribed reports whether messages are being received.
	Subscribed(ok bool)
}

// Timing of a subscription: a ping when nothing arrived for
// subscriptionPing; lost when nothing, not even the pong, arrived for
// subscriptionLost (a connection can die without a word); retried after
// subscriptionRetry.
const (
	subscriptionPing  = time.Second
	subscriptionLost  = 3 * time.Second
	subscriptionRetry = time.Second
)

// Publish implements Broadcaster.
func (r *Redis) Publish(ctx context.Context, channel, msg string) error {
	if err := r.begin("publish"); err != nil {
		return err
	}
	start := time.Now()
	return r.end(ctx, "publish", start, r.c.Publish(ctx, r.prefix+channel, msg).Err())
}

// Subscribe implements Broadcaster.
func (r *Redis) Subscribe(channel string, s Subscriber) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		cancel()
		s.Subscribed(false)
		return func() {}
	}
	r.probes.Add(1)
	r.mu.Unlock()
	go func() {
		defer r.probes.Done()
		defer close(done)
		r.listen(ctx, r.prefix+channel, s)
	}()
	go func() {
		select {
		case <-r.stop:
			cancel()
		case <-done:
		}
	}()
	return func() {
		cancel()
		<-done
	}
}

// listen receives channel's messages for s until ctx ends, resubscribing
// on a new connection whenever the subscription is lost. A subscription
// that fails as Redis is unreachable marks the store down like any
// operation: the store's probe then reconnects (with its backoff), and
// listen waits for it rather than dialing on its own.
func (r *Redis) listen(ctx context.Context, channel string, s Subscriber) {
	s.Subscribed(false)
	defer s.Subscribed(false)
	for ctx.Err() == nil {
		if !r.down.Load() {
			start := time.Now()
			if err := r.receive(ctx, channel, s); err != nil && ctx.Err() == nil {
				_ = r.end(ctx, "subscribe", start, err)
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(subscriptionRetry):
		}
	}
}

// errSilent ends a subscription that heard nothing, not even a pong, for
// subscriptionLost.
var errSilent = errors.New("subscription silent")

// receive runs one subscription until it is lost (the error) or ctx ends.
func (r *Redis) receive(ctx context.Context, channel string, s Subscriber) error {
	ps := r.c.Subscribe(ctx, channel)
	defer func() { _ = ps.Close() }()
	subscribed := false
	defer func() {
		if subscribed {
			s.Subscribed(false)
		}
	}()
	heard := time.Now()
	for {
		msg, err := ps.ReceiveTimeout(ctx, subscriptionPing)
		switch m := msg.(type) {
		case *redis.Subscription:
			heard = time.Now()
			if m.Kind == "subscribe" && !subscribed {
				subscribed = true
				s.Subscribed(true)
			}
		case *redis.Message:
			heard = time.Now()
			s.Message(m.Payload)
		case *redis.Pong:
			heard = time.Now()
		}
		var ne net.Error
		switch {
		case err == nil:
			continue
		case ctx.Err() != nil:
			return nil
		case !errors.As(err, &ne) || !ne.Timeout():
			return err
		case time.Since(heard) > subscriptionLost:
			return errSilent
		}
		_ = ps.Ping(ctx) // silence: is the connection still there?
	}
}
