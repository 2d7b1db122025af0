# Regenerates tokenizer.json, the test tokenizer of sera-train's integration tests: a byte-level
# BPE (as Qwen's), trained on this directory's two exports, with the ChatML specials and
# <|endoftext|> as added special tokens. Needs the `tokenizers` Python package (tests do not).
# Usage: python3 make_tokenizer.py
import pathlib

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

here = pathlib.Path(__file__).parent
tokenizer = Tokenizer(models.BPE())
tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
tokenizer.decoder = decoders.ByteLevel()
trainer = trainers.BpeTrainer(
    vocab_size=400,
    special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
    initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    show_progress=False,
)
files = [str(here / "bugfix.hermes.jsonl"), str(here / "bugfix.openai.jsonl")]
tokenizer.train(files, trainer)
tokenizer.save(str(here / "tokenizer.json"), pretty=False)
print(tokenizer.get_vocab_size(), "tokens")
