"""The Qt adapter: worker queues and the controller, the only object widgets call."""
