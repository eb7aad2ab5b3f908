"""The simulated estate: the demo broker "示例证券 / Example Securities" (see docs/demo.md)."""
