# The scenario of syncx's TestBoundedSemaphoreZero, in CPython's threading:
# a BoundedSemaphore(0) is allowed, can never be acquired, and refuses every
# release, even with a thread waiting in acquire; BoundedSemaphore(1) for
# contrast.
import threading
import time

s = threading.BoundedSemaphore(0)
print("zero: value", s._value)
print("zero: try acquire", s.acquire(blocking=False))
print("zero: acquire with timeout", s.acquire(timeout=0.05))
try:
    s.release()
    print("zero: release ok")
except ValueError as e:
    print("zero: release ValueError:", e)

got = []
t = threading.Thread(target=lambda: got.append(s.acquire(timeout=0.3)))
t.start()
time.sleep(0.05)
try:
    s.release()
    print("zero, a waiter: release ok")
except ValueError as e:
    print("zero, a waiter: release ValueError:", e)
t.join()
print("zero, a waiter: waiter acquired", got[0])
print("zero: value", s._value)

b = threading.BoundedSemaphore(1)
print("one: try acquire", b.acquire(blocking=False))
print("one: try acquire", b.acquire(blocking=False))
b.release()
print("one: value", b._value)
try:
    b.release()
    print("one: release ok")
except ValueError as e:
    print("one: release ValueError:", e)
