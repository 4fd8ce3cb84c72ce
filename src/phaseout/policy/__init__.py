"""Policy packs: which makers a law, regulation or an organisation's own decision covers, where,
from when, and what it requires.  Packs are versioned data files; evaluation is pure."""
