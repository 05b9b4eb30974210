//! The tract op boilerplate that several ops here share word for word.

/// `PartialEq` and `Eq` by identity of the `Arc` in field 0: tract compares ops to merge
/// duplicates, and that state is built once per node and only ever shared, never
/// rebuilt, within a model.
macro_rules! identity_eq {
    ($op:ty) => {
        impl PartialEq for $op {
            fn eq(&self, other: &Self) -> bool {
                std::sync::Arc::ptr_eq(&self.0, &other.0)
            }
        }

        impl Eq for $op {}
    };
}

/// `impl Op` for a typed op that has nothing to say beyond its constant name.
macro_rules! typed_op {
    ($op:ty, $name:expr) => {
        impl Op for $op {
            fn name(&self) -> StaticName {
                $name.into()
            }

            op_as_typed_op!();
        }
    };
}

/// An `Expansion`'s `name` and `rules` for a one-input, one-output op whose output has
/// its input's shape and either its input's type (`same_type`) or the type given.
macro_rules! elementwise_expansion {
    ($name:expr, same_type) => {
        elementwise_expansion!(@ $name, None);
    };
    ($name:expr, $out:expr) => {
        elementwise_expansion!(@ $name, Some($out));
    };
    (@ $name:expr, $out:expr) => {
        fn name(&self) -> StaticName {
            $name.into()
        }

        fn rules<'r, 'p: 'r, 's: 'r>(
            &'s self,
            s: &mut Solver<'r>,
            inputs: &'p [TensorProxy],
            outputs: &'p [TensorProxy],
        ) -> InferenceResult {
            super::wiring::same_shape_rules(s, inputs, outputs, $out)
        }
    };
}
