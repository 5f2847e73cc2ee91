"""The synthetic multilingual world: scenes, pixels, captions in six languages, a noisy MT system,
its pretrained models (`world-clip`, the frozen English-only visual backbone, and `world-mbert`,
a multilingual masked LM in Hugging Face format), written in the NRCCR VisualSearch layout
(`ccrkit world`).

Entry points: `world.generate_world(cfg, root)`, `config.WorldConfig`, `mt.translate_frames` /
`mt.translate` (the future 'synthetic' translate backend), `layout` (every file name); world-clip
itself is a model (`ccrkit.models.world_clip`: `load_world_clip(dir)`, `load_pixels(paths)`).
Nothing heavy is imported here.
"""
