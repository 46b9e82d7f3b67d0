package runner

import (
	"fmt"
	"io"
	"os"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/trident-go/trident/internal/proctree"
	"github.com/trident-go/trident/internal/rusage"
)

// The fast path for grouped output (the default): a job's stdout and
// stderr are unlinked temp files that the child writes directly, instead of
// pipes that the runner copies from. That saves, per job, two pipes, two
// copy goroutines and their poller registrations; the output is read back
// (streamed, so memory stays flat) when the job ends, and large outputs sit
// on disk, never in the runner's memory. The files are reused: after a job,
// they are truncated and go back to a pool for the next job (unless some
// process of the job's group still runs and may write to them later; then
// they are closed and that process keeps its own reference).
//
// The child is started by the run's supervisor process (internal/proctree:
// no exec.Cmd, no LookPath per job, no context watcher; the supervisor forks
// it with syscall.ForkExec and reports its end and rusage over a socket, on
// which the job's goroutine parks). Without a supervisor, the runner forks
// the child itself and gets a pidfd, which the runtime's poller watches.
//
// One behavioural difference from pipes, shared with GNU parallel's temp
// files: a job ends when its process ends, even if a background process it
// started still holds its stdout (with pipes, the job lasted until every
// holder closed it).

// outFile is one reusable unlinked temp file (a raw, close-on-exec
// descriptor, so no *os.File finalizer or poller is involved).
type outFile struct {
	fd int
}

// filePool hands out outFiles. It is used from the run loop's goroutine
// only.
type filePool struct {
	dir  string
	free []*outFile
	open int // files open (free or in use), for tests
}

func (p *filePool) get() (*outFile, error) {
	if n := len(p.free); n > 0 {
		f := p.free[n-1]
		p.free = p.free[:n-1]
		return f, nil
	}
	fd, err := openTempFD(p.dir)
	if err != nil {
		return nil, err
	}
	p.open++
	return &outFile{fd: fd}, nil
}

// put returns f for reuse after truncating it (size is what the last job
// wrote), or closes it when reuse is not safe or not wanted.
func (p *filePool) put(f *outFile, size int64, reuse bool) {
	if reuse && size > 0 {
		if unix.Ftruncate(f.fd, 0) != nil {
			reuse = false
		} else if _, err := unix.Seek(f.fd, 0, io.SeekStart); err != nil {
			reuse = false
		}
	}
	if !reuse || len(p.free) >= 64 {
		unix.Close(f.fd)
		p.open--
		return
	}
	p.free = append(p.free, f)
}

func (p *filePool) closeAll() {
	for _, f := range p.free {
		unix.Close(f.fd)
		p.open--
	}
	p.free = nil
}

// openTempFD opens an unnamed temp file in dir ("" = os.TempDir()): with
// O_TMPFILE where the file system has it, else a named file unlinked at
// once.
func openTempFD(dir string) (int, error) {
	if dir == "" {
		dir = os.TempDir()
	}
	fd, err := unix.Open(dir, unix.O_TMPFILE|unix.O_RDWR|unix.O_CLOEXEC, 0o600)
	if err == nil {
		return fd, nil
	}
	f, err := os.CreateTemp(dir, "trident-run-*.out")
	if err != nil {
		return -1, fmt.Errorf("output temp file: %w", err)
	}
	defer f.Close()
	os.Remove(f.Name())
	fd, err = unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("output temp file: %w", err)
	}
	return fd, nil
}

// fileCapture is a finished job's output in an outFile: size bytes from
// offset 0.
type fileCapture struct {
	pool  *filePool
	f     *outFile
	size  int64
	reuse bool
}

func (c *fileCapture) Size() int64 { return c.size }

// WriteTo streams the content to w in chunks (memory stays flat).
func (c *fileCapture) WriteTo(w io.Writer) (int64, error) {
	if c.size == 0 || c.f == nil {
		return 0, nil
	}
	buf := make([]byte, min(c.size, 256<<10))
	var off int64
	for off < c.size {
		n, err := unix.Pread(c.f.fd, buf[:min(int64(len(buf)), c.size-off)], off)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return off, werr
			}
			off += int64(n)
		}
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return off, err
		}
		if n == 0 {
			return off, io.ErrUnexpectedEOF
		}
	}
	return off, nil
}

func (c *fileCapture) Bytes() []byte { return captureBytes(c) }

func (c *fileCapture) Close() {
	if c.f != nil {
		c.pool.put(c.f, c.size, c.reuse)
		c.f = nil
	}
}

// spawner starts jobs on the fast path.
type spawner struct {
	env     []string
	devnull int
	pool    filePool
}

func newSpawner() (*spawner, error) {
	fd, err := unix.Open(os.DevNull, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return &spawner{env: syscall.Environ(), devnull: fd}, nil
}

func (sp *spawner) close() {
	sp.pool.closeAll()
	unix.Close(sp.devnull)
}

// waitExit waits for the child pid to exit and reaps it. With a pidfd the
// goroutine parks in the runtime's poller; without, it blocks in wait4.
func waitExit(pid, pidfd int) (syscall.WaitStatus, syscall.Rusage, error) {
	var ws syscall.WaitStatus
	var ru syscall.Rusage
	reap := func(opts int) (bool, error) {
		for {
			var got int
			var err error
			if opts&syscall.WNOHANG != 0 {
				// Does not block: a raw call spares the scheduler's
				// syscall bookkeeping (which wakes sysmon).
				r, _, e := syscall.RawSyscall6(syscall.SYS_WAIT4, uintptr(pid), uintptr(unsafe.Pointer(&ws)),
					uintptr(opts), uintptr(unsafe.Pointer(&ru)), 0, 0)
				got = int(r)
				if e != 0 {
					err = e
				}
			} else {
				got, err = syscall.Wait4(pid, &ws, opts, &ru)
			}
			if err == syscall.EINTR {
				continue
			}
			return got == pid, err
		}
	}
	if pidfd < 0 {
		_, err := reap(0)
		return ws, ru, err
	}
	if _, _, e := syscall.RawSyscall(syscall.SYS_FCNTL, uintptr(pidfd), syscall.F_SETFL, syscall.O_NONBLOCK); e != 0 {
		unix.Close(pidfd)
		_, err := reap(0)
		return ws, ru, err
	}
	f := os.NewFile(uintptr(pidfd), "pidfd")
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		_, err := reap(0)
		return ws, ru, err
	}
	var werr error
	err = rc.Read(func(uintptr) bool {
		done, err := reap(syscall.WNOHANG)
		if err != nil {
			werr = err
			return true
		}
		return done
	})
	if err != nil && werr == nil {
		// The poller refused the pidfd: wait the blocking way.
		_, werr = reap(0)
	}
	return ws, ru, werr
}

// execFile runs rj with argv (argv[0] resolved to path) writing to output
// files, and reports on s.results.
func (s *state) execFile(rj *runningJob, path string, argv []string, out, errf *outFile) {
	r := &result{rj: rj}
	sp := s.spawn
	pidfd := -1
	t0 := time.Now()
	var pid int
	var proc *proctree.Process
	var err error
	if s.sup != nil {
		// The supervisor's environment is the runner's (sp.env).
		proc, err = s.sup.Spawn(path, argv, nil, "", []int{sp.devnull, out.fd, errf.fd})
		if err == nil {
			pid = proc.Pid
		}
	} else {
		attr := &syscall.ProcAttr{Env: sp.env, Files: []uintptr{uintptr(sp.devnull), uintptr(out.fd), uintptr(errf.fd)},
			Sys: &syscall.SysProcAttr{Setpgid: true, PidFD: &pidfd}}
		pid, err = syscall.ForkExec(path, argv, attr)
		if err != nil {
			err = &os.PathError{Op: "fork/exec", Path: path, Err: err}
		}
	}
	if err != nil {
		r.startErr = err
		r.exitval = -1
		msg := fmt.Sprintf("trident run: job %d could not start: %v\n", rj.p.job.Seq, r.startErr)
		unix.Pwrite(errf.fd, []byte(msg), 0)
		r.stdout = s.capture(out, true)
		r.stderr = s.capture(errf, true)
		rj.mu.Lock()
		rj.done = true
		rj.mu.Unlock()
		s.results <- r
		return
	}
	exited := s.started(rj, pid)
	var ws syscall.WaitStatus
	var ru syscall.Rusage
	var werr error
	if proc != nil {
		ws, ru, werr = proc.Wait()
	} else {
		ws, ru, werr = waitExit(pid, pidfd)
	}
	r.wall = time.Since(t0)
	stopping, linger := exited()
	r.linger = linger
	switch {
	case werr != nil:
		r.exitval = -1
		fmt.Fprintf(s.errw, "trident run: job %d: wait: %v\n", rj.p.job.Seq, werr)
	case ws.Signaled():
		r.exitval, r.signal = -1, int(ws.Signal())
	default:
		r.exitval = ws.ExitStatus()
	}
	r.usage = rusage.Usage{User: time.Duration(ru.Utime.Nano()), Sys: time.Duration(ru.Stime.Nano()), MaxRSSKB: int64(ru.Maxrss)}
	// Reuse the files only when no process of the job's group is left to
	// write to them.
	_, _, e := syscall.RawSyscall(syscall.SYS_KILL, uintptr(-pid), 0, 0)
	reuse := e == syscall.ESRCH
	r.stdout = s.capture(out, reuse)
	r.stderr = s.capture(errf, reuse)
	r.received = r.stdout.Size()
	// A job we stopped that did not end cleanly on its own is unfinished.
	r.stopped = stopping && (r.signal != 0 || r.exitval != 0)
	s.results <- r
}

// capture wraps a job's output file once the job has ended.
func (s *state) capture(f *outFile, reuse bool) capture {
	var st syscall.Stat_t
	size := int64(0)
	if _, _, e := syscall.RawSyscall(syscall.SYS_FSTAT, uintptr(f.fd), uintptr(unsafe.Pointer(&st)), 0); e == 0 {
		size = st.Size
	}
	return &fileCapture{pool: &s.spawn.pool, f: f, size: size, reuse: reuse}
}
