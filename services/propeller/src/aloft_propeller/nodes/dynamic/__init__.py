"""Dynamic nodes: a task that returns a DynamicJobSpec (futures.pb) runs the compiled workflow as its children."""
