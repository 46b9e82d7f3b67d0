//go:build race

package aio_test

const raceEnabled = true
