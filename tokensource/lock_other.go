//go:build !unix

package tokensource

import "os"

// tryLock is a no-op where flock is not available: processes then share the
// cache file's token but may each refresh it.
func tryLock(*os.File) (bool, error) { return true, nil }

func unlock(*os.File) error { return nil }
