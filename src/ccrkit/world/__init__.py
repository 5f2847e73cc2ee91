"""The synthetic multilingual world: scenes, pixels, captions in six languages, a noisy MT system
and a frozen English-only backbone, written in the NRCCR VisualSearch layout (`ccrkit world`).

Entry points: `world.generate_world(cfg, root)`, `config.WorldConfig`, `mt.translate_frames` /
`mt.translate` (the future 'synthetic' translate backend), `backbone.load_backbone(dir)` and
`backbone.load_pixels(paths)` (the raw-pixel path), `layout` (every file name). Nothing heavy is
imported here.
"""
