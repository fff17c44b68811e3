package users_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gousers/users"
	"github.com/gousers/users/internal/testutil"
	"github.com/gousers/users/memory"
	"golang.org/x/crypto/bcrypt"
)

// ceilingArgon2 are the costliest argon2id parameters Import accepts.
var ceilingArgon2 = users.Argon2Params{
	Memory: users.MaxImportedArgon2Memory, Iterations: users.MaxImportedArgon2Iterations,
	Parallelism: users.MaxImportedArgon2Parallelism, SaltLength: 16, KeyLength: 32,
}

// floodService returns a Service with the real defaults but the throttle (the same accounts
// fail in every round), and the users imported into it.
func floodService(b *testing.B, us []*users.User) users.Service {
	b.Helper()
	svc, err := users.New(memory.New(), users.Config{NoWorker: true, Throttle: users.Throttle{MaxFailures: -1}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = svc.Close() })
	results, err := svc.Import(context.Background(), us)
	if err != nil {
		b.Fatal(err)
	}
	for _, r := range results {
		if r.Status != users.ImportCreated {
			b.Fatal(r.ID, r.Status, r.Err)
		}
	}
	return svc
}

// BenchmarkSignInFlood floods a Service at the default costs with 500 concurrent sign-ins with
// wrong passwords, a third of them against accounts imported with argon2id hashes at the
// ceilings (64 MiB, t=4, p=4), while a regular user signs in. It reports the
// peak resident memory of the process during the flood (peak-RSS-MiB; target ≤ 300), the
// sign-ins refused with ErrOverloaded (shed/op), and the p99 and worst time of the regular
// user's sign-ins, one started every 100 ms while the flood lasts (regular-p99-ms,
// regular-max-ms; target: answered, signed in or refused, within 3 s), with how many of them
// succeeded (regular-ok) out of how many (regular-n).
//
//	go test -run '^$' -bench SignInFlood -benchtime 1x .
func BenchmarkSignInFlood(b *testing.B) {
	const flood = 500
	const password = "the right pass phrase"
	regular := testutil.Hash(b, users.DefaultArgon2(), password)
	ceiling := testutil.Hash(b, ceilingArgon2, password)
	us := []*users.User{{Username: "regular@example.com", PasswordHash: regular}}
	for i := range flood {
		h := regular
		if i%3 == 0 {
			h = ceiling
		}
		us = append(us, &users.User{Username: fmt.Sprintf("flood%03d@example.com", i), PasswordHash: h})
	}
	svc := floodService(b, us)
	ctx := context.Background()

	for b.Loop() {
		runtime.GC()
		debug.FreeOSMemory() // what the set-up hashed is not the flood's
		rss := startRSSWatch(b)

		var shed atomic.Int64
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range flood {
			wg.Go(func() {
				<-start
				_, err := svc.SignIn(ctx, fmt.Sprintf("flood%03d@example.com", i), "a wrong pass phrase")
				switch {
				case errors.Is(err, users.ErrOverloaded):
					shed.Add(1)
				case !errors.Is(err, users.ErrUnauthorized):
					b.Error(err)
				}
			})
		}
		// The regular user starts a sign-in every 100 ms for as long as the flood lasts.
		floodDone := make(chan struct{})
		var mu sync.Mutex
		var times, okTimes, shedTimes []time.Duration
		var regulars sync.WaitGroup
		regularsStarted := make(chan struct{})
		go func() {
			defer close(regularsStarted)
			tick := time.NewTicker(100 * time.Millisecond)
			defer tick.Stop()
			for {
				regulars.Go(func() {
					t0 := time.Now()
					_, err := svc.SignIn(ctx, "regular@example.com", password)
					d := time.Since(t0)
					mu.Lock()
					defer mu.Unlock()
					times = append(times, d)
					switch {
					case err == nil:
						okTimes = append(okTimes, d)
					case errors.Is(err, users.ErrOverloaded):
						shedTimes = append(shedTimes, d)
					default:
						b.Error(err)
					}
				})
				select {
				case <-floodDone:
					return
				case <-tick.C:
				}
			}
		}()
		t0 := time.Now()
		close(start)
		wg.Wait()
		floodTime := time.Since(t0)
		close(floodDone)
		<-regularsStarted
		regulars.Wait()
		peak := rss.stop()

		slices.Sort(times)
		b.ReportMetric(float64(peak)/(1<<20), "peak-RSS-MiB")
		b.ReportMetric(float64(shed.Load()), "shed/op")
		b.ReportMetric(ms(percentile(times, 0.99)), "regular-p99-ms")
		b.ReportMetric(ms(times[len(times)-1]), "regular-max-ms")
		b.ReportMetric(float64(len(okTimes)), "regular-ok")
		b.ReportMetric(ms(slices.Max(append(okTimes, 0))), "regular-ok-max-ms")
		b.ReportMetric(ms(slices.Max(append(shedTimes, 0))), "regular-shed-max-ms")
		b.ReportMetric(float64(len(times)), "regular-n")
		b.ReportMetric(floodTime.Seconds(), "flood-s")
	}
}

// rssWatch follows the resident memory of the process: the kernel's high-water mark, reset at
// the start when the kernel allows it, and samples taken every few milliseconds besides.
type rssWatch struct {
	reset   bool // the high-water mark was reset: VmHWM is the peak since the start
	stopped chan struct{}
	done    chan struct{}
	sampled int64
}

func startRSSWatch(b *testing.B) *rssWatch {
	w := &rssWatch{stopped: make(chan struct{}), done: make(chan struct{})}
	// Writing 5 to clear_refs resets VmHWM to the current RSS (Linux 4.0 and later).
	w.reset = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
	if _, ok := procStatus("VmRSS"); !ok {
		b.Skip("no /proc/self/status: the peak memory cannot be measured here")
	}
	go func() {
		defer close(w.done)
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			if v, ok := procStatus("VmRSS"); ok {
				w.sampled = max(w.sampled, v)
			}
			select {
			case <-w.stopped:
				return
			case <-tick.C:
			}
		}
	}()
	return w
}

// stop returns the peak resident memory in bytes since the start.
func (w *rssWatch) stop() int64 {
	close(w.stopped)
	<-w.done
	peak := w.sampled
	if hwm, ok := procStatus("VmHWM"); ok && w.reset {
		peak = max(peak, hwm)
	}
	return peak
}

// procStatus returns a field of /proc/self/status given in kB, in bytes.
func procStatus(field string) (int64, bool) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, value, found := strings.Cut(sc.Text(), ":")
		if !found || name != field {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
		return n << 10, err == nil
	}
	return 0, false
}

// BenchmarkSignInTiming measures failed sign-ins of three populations at the default costs,
// interleaved so that the machine's load falls on all alike: an unknown username, a known one
// with a wrong password (argon2id at the defaults), and one with a wrong password whose account
// was imported with a bcrypt hash at bcrypt's default cost. It reports the median and the 90th
// percentile of each, in milliseconds: they should not tell the populations apart.
//
//	go test -run '^$' -bench SignInTiming -benchtime 1x .
func BenchmarkSignInTiming(b *testing.B) {
	const rounds = 40
	const password = "the right pass phrase"
	argon := testutil.Hash(b, users.DefaultArgon2(), password)
	bc, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		b.Fatal(err)
	}
	var us []*users.User
	for i := range rounds {
		us = append(us,
			&users.User{Username: fmt.Sprintf("argon%02d@example.com", i), PasswordHash: argon},
			&users.User{Username: fmt.Sprintf("bcrypt%02d@example.com", i), PasswordHash: string(bc)})
	}
	svc := floodService(b, us)
	ctx := context.Background()
	populations := []struct {
		name     string
		username func(i int) string
	}{
		{"unknown", func(i int) string { return fmt.Sprintf("nobody%02d@example.com", i) }},
		{"wrong", func(i int) string { return fmt.Sprintf("argon%02d@example.com", i) }},
		{"bcrypt", func(i int) string { return fmt.Sprintf("bcrypt%02d@example.com", i) }},
	}
	times := make([][]time.Duration, len(populations))
	for b.Loop() {
		for i := range rounds {
			for p, pop := range populations {
				t0 := time.Now()
				_, err := svc.SignIn(ctx, pop.username(i), "a wrong pass phrase")
				times[p] = append(times[p], time.Since(t0))
				if !errors.Is(err, users.ErrUnauthorized) {
					b.Fatal(err)
				}
			}
		}
	}
	for p, pop := range populations {
		slices.Sort(times[p])
		b.ReportMetric(ms(percentile(times[p], 0.5)), pop.name+"-median-ms")
		b.ReportMetric(ms(percentile(times[p], 0.9)), pop.name+"-p90-ms")
	}
}

// percentile returns the q-quantile of sorted durations (nearest rank).
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
