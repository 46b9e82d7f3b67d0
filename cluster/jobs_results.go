package cluster

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Large results. A job record is one KV value, and a KV value is one
// message, bounded by the server's max_payload (1 MiB by default); a
// record carrying a large result also makes every reader of the bucket
// (the job index, the dashboard, `trident job list`) pay for it. A result
// larger than MaxInlineResult is therefore stored as an object of the
// JetStream object store ResultBucket, the record naming it
// (Job.ResultObject); Jobs.Job and Jobs.Wait read it back, and
// Jobs.CleanResults removes the objects whose job is gone.

// MaxInlineResult is the largest result kept inside a job's record; a
// larger one goes to the result store ResultBucket.
const MaxInlineResult = 64 << 10

// ResultBucket is the JetStream object store holding job results larger
// than MaxInlineResult.
const ResultBucket = "TRIDENT_JOB_RESULTS"

// resultStore returns the result store, creating it on first use.
func (q *Jobs) resultStore(ctx context.Context) (jetstream.ObjectStore, error) {
	q.objMu.Lock()
	defer q.objMu.Unlock()
	if q.obj != nil {
		return q.obj, nil
	}
	os, err := q.conn.js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
		Bucket:      ResultBucket,
		Description: "trident job results larger than MaxInlineResult",
		Storage:     jetstream.FileStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("cluster: creating the result store %s: %w", ResultBucket, err)
	}
	q.obj = os
	return os, nil
}

// resultObjectName is the object of run attempt of job id.
func resultObjectName(id string, attempt int) string {
	return id + "." + strconv.Itoa(attempt)
}

// storeResult moves j's result to the result store when it is larger than
// MaxInlineResult.
func (q *Jobs) storeResult(ctx context.Context, j *Job) error {
	if len(j.Result) <= MaxInlineResult {
		return nil
	}
	os, err := q.resultStore(ctx)
	if err != nil {
		return err
	}
	name := resultObjectName(j.ID, j.Attempts)
	if _, err := os.PutBytes(ctx, name, j.Result); err != nil {
		return fmt.Errorf("cluster: storing the result of job %s (%d bytes): %w", j.ID, len(j.Result), err)
	}
	j.Result, j.ResultObject = nil, name
	return nil
}

// dropResult removes the object a result was stored in (a run whose
// result was not recorded).
func (q *Jobs) dropResult(ctx context.Context, j *Job) {
	if j.ResultObject == "" {
		return
	}
	if os, err := q.resultStore(ctx); err == nil {
		_ = os.Delete(ctx, j.ResultObject)
	}
}

// loadResult reads a result kept in the result store into j.Result.
func (q *Jobs) loadResult(ctx context.Context, j *Job) error {
	if j.ResultObject == "" || j.Result != nil {
		return nil
	}
	os, err := q.resultStore(ctx)
	if err != nil {
		return err
	}
	b, err := os.GetBytes(ctx, j.ResultObject)
	if err != nil {
		return fmt.Errorf("cluster: reading the result of job %s (object %s of %s): %w", j.ID, j.ResultObject, ResultBucket, err)
	}
	j.Result = b
	return nil
}

// resultCleanAge: an object younger than this is never removed by
// CleanResults (its job's record may not name it yet).
var resultCleanAge = time.Minute // a variable for tests

// CleanResults removes the objects of the result store that no job record
// names any more (the job expired after its TTL, was requeued, or its run
// was superseded), and returns how many it removed. Objects written in
// the last minute are left alone. Job workers run it with their repair
// sweeper; there is no RQ counterpart (Redis expires a result with its
// key).
func (q *Jobs) CleanResults(ctx context.Context) (int, error) {
	os, err := q.resultStore(ctx)
	if err != nil {
		return 0, err
	}
	infos, err := os.List(ctx)
	if errors.Is(err, jetstream.ErrNoObjectsFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("cluster: listing %s: %w", ResultBucket, err)
	}
	n := 0
	for _, info := range infos {
		if time.Since(info.ModTime) < resultCleanAge {
			continue
		}
		id, _, ok := strings.Cut(info.Name, ".")
		if !ok {
			continue
		}
		j, err := q.record(ctx, id)
		if err == nil && j.ResultObject == info.Name {
			continue
		}
		if err != nil && !errors.Is(err, ErrJobNotFound) {
			return n, err
		}
		if err := os.Delete(ctx, info.Name); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
			return n, fmt.Errorf("cluster: removing %s from %s: %w", info.Name, ResultBucket, err)
		}
		n++
	}
	return n, nil
}
