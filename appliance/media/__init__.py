"""Media worker: a pjsua2 process that executes call legs for the controller."""
