// The TextTasks target; its types arrive with their issues.
