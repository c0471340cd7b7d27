package meshjobs

// SetTestHook sets the hook called at each step (nil: none).
func SetTestHook(f func(step, id string) error) { testHook = f }
