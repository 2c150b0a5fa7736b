"""Reference outputs of Hugging Face transformers for the WordPiece and BERT tests.

  bert_reference.py tokenize MODEL_DIR MAX_LEN OUT CSV...
      one JSON line per CSV row (csv module order): {"id", "full": ids of encode(text) without
      truncation, "ids", "mask", "segments": encode_plus(max_length=MAX_LEN, truncation=True,
      padding="max_length")} with BertTokenizer (the slow, pure-Python tokenizer).
  bert_reference.py encode MODEL_DIR IDS_JSON OUT
      IDS_JSON: {"ids": [[...]], "mask": [[...]], "segments": [[...]]}; writes BertModel's
      last_hidden_state as float32 raw bytes (B, L, H) to OUT.

Exit code 3 when a needed package (transformers, torch) is missing, so the C++ test can skip.
"""
import csv
import json
import sys


def need(module):
    try:
        return __import__(module)
    except Exception as e:  # ImportError, or a broken install
        print(f"missing {module}: {e}", file=sys.stderr)
        sys.exit(3)


def tokenize(model_dir, max_len, out, paths):
    need("transformers")
    from transformers import BertTokenizer
    import transformers
    transformers.logging.set_verbosity_error()
    tok = BertTokenizer(f"{model_dir}/vocab.txt", do_lower_case=True)
    with open(out, "w", encoding="utf-8") as f:
        for path in paths:
            with open(path, newline="", encoding="utf-8") as c:
                for row in csv.DictReader(c):
                    text = row["text"]
                    full = tok.encode(text, add_special_tokens=True)
                    e = tok.encode_plus(text, max_length=max_len, truncation=True,
                                        padding="max_length")
                    rid = row["id"] if "id" in row else row["video_id"] + "$_$" + row["clip_id"]
                    f.write(json.dumps({"id": rid, "full": full, "ids": e["input_ids"],
                                        "mask": e["attention_mask"],
                                        "segments": e["token_type_ids"]}) + "\n")


def encode(model_dir, ids_json, out):
    torch = need("torch")
    need("transformers")
    from transformers import BertModel
    import transformers
    transformers.logging.set_verbosity_error()
    with open(ids_json) as f:
        batch = json.load(f)
    model = BertModel.from_pretrained(model_dir, add_pooling_layer=False).eval()
    with torch.no_grad():
        h = model(input_ids=torch.tensor(batch["ids"]),
                  attention_mask=torch.tensor(batch["mask"]),
                  token_type_ids=torch.tensor(batch["segments"])).last_hidden_state
    h.float().contiguous().numpy().tofile(out)


if __name__ == "__main__":
    if sys.argv[1] == "tokenize":
        tokenize(sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5:])
    elif sys.argv[1] == "encode":
        encode(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        sys.exit(f"unknown mode {sys.argv[1]}")
