"""DVC stages: one thin CLI per stage (parse args, load params, call the library, write outputs)."""
