"""Provider API descriptions (OpenAPI 3.0/3.1, Swagger 2.0) as ground truth for packs and sandboxes.

`load_spec(path)` reads one; `Spec.find_operation(method, path)` says which operation a pack request
calls; `Spec.validate_response(op, status, body)` lists how a response body breaks its schema.
"""

from monitor.specs.document import Operation, Spec, SpecError, UnsupportedSpec, load_spec

__all__ = ["Operation", "Spec", "SpecError", "UnsupportedSpec", "load_spec"]
