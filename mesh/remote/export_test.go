package remote

// SetTestHook makes fn run at each step of moving a file (an error stops
// the LA there, as a crash would) and returns the function that undoes it.
func SetTestHook(fn func(step, name string) error) (undo func()) {
	old := testHook
	testHook = fn
	return func() { testHook = old }
}
