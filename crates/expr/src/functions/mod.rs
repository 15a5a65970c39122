//! StackStorm and Orquesta expression functions, shared by the YAQL and Jinja front ends.
