package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/robfig/cron/v3"

	"github.com/trident-go/trident/registry"
)

// Schedule is a periodic job (rq-scheduler's cron jobs, Celery beat): a
// function with its encoded argument, or a command, enqueued once per
// period of Cron by whichever scheduler (RunScheduler) sees the period
// first. Any number of schedulers may run: the job of a period has an ID
// made of the schedule's name and the period's time, created only if
// absent, so a period fires once.
type Schedule struct {
	// Name identifies the schedule (letters, digits, '-', '_').
	Name string `json:"name"`
	// Cron is a cron expression: five fields (minute hour day-of-month
	// month day-of-week), six with a leading seconds field, or a
	// descriptor such as @hourly or @every 90s (github.com/robfig/cron).
	Cron string `json:"cron"`
	// Func and Arg are the function job to enqueue (Arg encoded with
	// Codec, "" meaning JSON); or Command, a command job.
	Func    string      `json:"func,omitempty"`
	Arg     []byte      `json:"arg,omitempty"`
	Codec   string      `json:"codec,omitempty"`
	Command *CommandJob `json:"command,omitempty"`
	// Queue, Retry, Timeout, ResultTTL and FailureTTL are the jobs'
	// options (see JobOptions).
	Queue      string        `json:"queue,omitempty"`
	Retry      *RetryPolicy  `json:"retry,omitempty"`
	Timeout    time.Duration `json:"timeout,omitempty"`
	ResultTTL  time.Duration `json:"result_ttl,omitempty"`
	FailureTTL time.Duration `json:"failure_ttl,omitempty"`
}

var cronParser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// parseCron parses a cron expression, with an error naming it.
func parseCron(expr string) (cron.Schedule, error) {
	s, err := cronParser.Parse(expr)
	if err != nil {
		return nil, fmt.Errorf("cluster: cron expression %q: %w", expr, err)
	}
	return s, nil
}

func (s *Schedule) check() error {
	if err := validQueue(s.Name); err != nil {
		return fmt.Errorf("cluster: schedule name: %w", err)
	}
	if _, err := parseCron(s.Cron); err != nil {
		return err
	}
	if (s.Func == "") == (s.Command == nil) {
		return fmt.Errorf("cluster: schedule %s: set exactly one of Func and Command", s.Name)
	}
	if s.Command != nil && s.Command.Command == "" {
		return fmt.Errorf("cluster: schedule %s: empty command", s.Name)
	}
	if s.Queue != "" {
		if err := validQueue(s.Queue); err != nil {
			return err
		}
	}
	if s.Codec != "" {
		if _, ok := registry.LookupCodec(s.Codec); !ok {
			return fmt.Errorf("cluster: schedule %s: unknown codec %q", s.Name, s.Codec)
		}
	}
	return nil
}

// AddSchedule stores (or replaces) a periodic schedule; running
// schedulers pick it up at their next tick.
func (q *Jobs) AddSchedule(ctx context.Context, s Schedule) error {
	if err := s.check(); err != nil {
		return err
	}
	b, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("cluster: encoding schedule %s: %w", s.Name, err)
	}
	if _, err := q.kv.Put(ctx, scheduleKeyPrefix+s.Name, b); err != nil {
		return fmt.Errorf("cluster: storing schedule %s: %w", s.Name, err)
	}
	return nil
}

// RemoveSchedule deletes a schedule; jobs it already enqueued are kept.
func (q *Jobs) RemoveSchedule(ctx context.Context, name string) error {
	if err := validQueue(name); err != nil {
		return fmt.Errorf("cluster: schedule name: %w", err)
	}
	if _, err := q.kv.Get(ctx, scheduleKeyPrefix+name); err != nil {
		return fmt.Errorf("cluster: schedule %s: %w", name, err)
	}
	return q.kv.Delete(ctx, scheduleKeyPrefix+name)
}

// Schedules returns the stored schedules, sorted by name.
func (q *Jobs) Schedules(ctx context.Context) ([]Schedule, error) {
	lister, err := q.kv.ListKeysFiltered(ctx, scheduleKeyPrefix+">")
	if err != nil {
		return nil, fmt.Errorf("cluster: listing schedules: %w", err)
	}
	defer lister.Stop()
	var out []Schedule
	for k := range lister.Keys() {
		e, err := q.kv.Get(ctx, k)
		if err != nil {
			continue // deleted meanwhile
		}
		var s Schedule
		if json.Unmarshal(e.Value(), &s) == nil {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b Schedule) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// SchedulerOptions configures RunScheduler.
type SchedulerOptions struct {
	// Tick is how often the schedules are looked at; 0 means 1s.
	Tick time.Duration
	// Grace is how late a period may still fire (a scheduler that was down
	// fires the latest missed period if it is within Grace, and skips older
	// ones, as cron does); 0 means 1 minute.
	Grace time.Duration
	// Logger receives a line per fired job; nil means slog.Default().
	Logger *slog.Logger
}

// RunScheduler enqueues the jobs of the stored schedules, once per period,
// until ctx ends (rq-scheduler, Celery beat). Run one next to the workers;
// running several is safe and keeps the schedules going when one stops.
func RunScheduler(ctx context.Context, q *Jobs, o SchedulerOptions) error {
	if o.Tick <= 0 {
		o.Tick = time.Second
	}
	if o.Grace <= 0 {
		o.Grace = time.Minute
	}
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("component", "trident.scheduler")
	last := map[string]time.Time{} // schedule name+expr -> last period handled
	t := time.NewTicker(o.Tick)
	defer t.Stop()
	for {
		scheds, err := q.Schedules(ctx)
		if err != nil && ctx.Err() == nil {
			log.Warn("reading schedules", "err", err)
		}
		now := time.Now()
		for _, s := range scheds {
			period, ok := latestPeriod(s.Cron, now, o.Grace)
			key := s.Name + "\x00" + s.Cron
			if !ok || last[key].Equal(period) {
				continue
			}
			fired, err := q.fire(ctx, s, period)
			if err != nil {
				if ctx.Err() == nil {
					log.Warn("firing schedule", "schedule", s.Name, "period", period, "err", err)
				}
				continue
			}
			last[key] = period
			if fired != "" {
				log.Info("schedule fired", "schedule", s.Name, "period", period, "job", fired)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// latestPeriod is the latest fire time of expr at or before now and after
// now-grace.
func latestPeriod(expr string, now time.Time, grace time.Duration) (time.Time, bool) {
	sched, err := parseCron(expr)
	if err != nil {
		return time.Time{}, false
	}
	from := now.Add(-grace)
	if cd, ok := sched.(cron.ConstantDelaySchedule); ok {
		// @every: periods on a fixed grid, the same for every scheduler.
		from = from.Truncate(cd.Delay)
	}
	var found time.Time
	for t := sched.Next(from); !t.IsZero() && !t.After(now); t = sched.Next(t) {
		found = t
	}
	return found, !found.IsZero() && now.Sub(found) < grace
}

// ScheduleJobID is the ID of the job schedule name fires for period.
func ScheduleJobID(name string, period time.Time) string {
	return "cron-" + name + "-" + strconv.FormatInt(period.Unix(), 10)
}

// fire enqueues the job of s for period unless it exists; it returns the
// job ID when this call created it.
func (q *Jobs) fire(ctx context.Context, s Schedule, period time.Time) (string, error) {
	o := JobOptions{ID: ScheduleJobID(s.Name, period), Queue: s.Queue, Retry: s.Retry, Timeout: s.Timeout,
		ResultTTL: s.ResultTTL, FailureTTL: s.FailureTTL, schedule: s.Name}
	spec := JobSpec{Func: s.Func, Arg: s.Arg, Opts: o}
	if s.Command != nil {
		b, err := json.Marshal(s.Command)
		if err != nil {
			return "", err
		}
		spec.Func, spec.Arg = CommandFunc, b
	} else if s.Codec != "" {
		spec.Opts.Codec, _ = registry.LookupCodec(s.Codec)
	}
	id, err := q.EnqueueRaw(ctx, spec)
	if errors.Is(err, ErrDuplicateJob) {
		// Another scheduler created it. If it died before publishing the
		// queue message, publish it: the stream's deduplication by job ID
		// drops it when the first one did get through.
		j, gerr := q.record(ctx, o.ID)
		if gerr == nil && j.State == JobQueued && j.Attempts == 0 && time.Since(j.EnqueuedAt) < time.Minute {
			_, _ = q.conn.js.PublishMsg(ctx, q.queueMsg(j, j.ID), jetstream.WithMsgID(j.ID))
		}
		return "", nil
	}
	return id, err
}
