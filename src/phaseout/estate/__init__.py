"""The estate as a set of devices: how a new record is matched with the devices already known
(pure, over plain keys).  Imports, scans and readers of other tools' exports share one rule."""
